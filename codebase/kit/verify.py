"""One case of an item's function, in two steps: `outputs` runs the function on the case's inputs
and returns what it gave back, raw; `judge` checks those raw outputs against what any correct
function satisfies and the case's expected values. The student's check runs both in one process
(the expected values stored in the starter). The teacher's grader runs `outputs` in a child
process that imported the submission (child.py) and `judge` in its own process, which never
imports a submission: code that patches this module in the child changes nothing the grade reads.
It holds no solution.

A case is a dict: "item", "function" (a Part's qualified name), "name", "kind" (below), "args"
(inputs: tensors encoded by `encode`, numbers, configurations) and "expected" ({name: encoded
tensor}, the judge's only). Kinds, and the outputs they return:
    function: utils.<function>(*args): out
    sample_shape: z, and m and v after the call; sample_moments: z of many samples;
    sample_gradients: z and the gradients of sum(z) reaching m and v (m_grad, v_grad)
    model_kl: the seeded model's kl(m, v, z): out
    vae_bound, ssvae_bound: the seeded model's negative_elbo_bound(x) (and the VAE's with
        reduce=False: <name>_each)
    vae_bound_kl: the VAE's bound with self.kl replaced by a constant (what the GMVAE inherits)
    rec_mc: rec of one image drawn `repeats` times (the VAE: the image repeated in a batch,
        reduce=False; the SSVAE: `repeats` calls on it): the draws of z must vary, and their mean
        match a many-sample estimate of E_q[-log p(x | z)]
One-sample bounds are judged through what holds whatever the random stream: the identity
nelbo = kl + rec, the deterministic KLs, with "tiny" the encoder's variances made ~1e-8 (the
variance half of its last bias set to -30, so z ~= m and rec is deterministic too), and rec_mc.
"""
import math

import torch

MODELS = {"VAE": "vae", "GMVAE": "gmvae", "SSVAE": "ssvae"}
NAMES = {"VAE": ("nelbo", "kl", "rec"), "SSVAE": ("nelbo", "kl_z", "kl_y", "rec")}  # what the bounds return
SE = 5  # standard errors allowed to sampled statistics
FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


class Failed(Exception):
    """A case's outcome other than a pass: one line saying what differs."""


def why(e):
    """One line for an exception raised by the code under test."""
    if isinstance(e, SystemExit):
        return f"called sys.exit({e.code!r})"
    if type(e).__name__ == "ToDo":
        return "not implemented yet (the starter's stub raises ToDo)"
    text = str(e).strip().splitlines()
    return f"raised {type(e).__name__}" + (f": {text[0][:160]}" if text else "")


def encode(t):
    """tensor -> {"dtype", "values"}: JSON's form of a small tensor"""
    return {"dtype": str(t.dtype).removeprefix("torch."), "values": t.detach().cpu().tolist()}


def decode(obj):
    return torch.tensor(obj["values"], dtype=getattr(torch, obj["dtype"]))


def build(modules, model, config, seed, tiny=False, sharp=1.0):
    """The case's model: modules[...].<model>(**config) seeded with `seed`; tiny: the encoder's
    variances ~1e-8; sharp: the classifier's last layer scaled (q(y | x) far from uniform)."""
    torch.manual_seed(seed)
    net = getattr(modules[MODELS[model]], model)(**config)
    with torch.no_grad():
        if tiny:
            last = net.enc.net[-1]
            last.bias[last.out_features // 2:] = -30.0
        if sharp != 1.0:
            net.cls.net[-1].weight.mul_(sharp)
    return net.eval()


def fingerprint(net):
    """A number that tells whether a seeded model is the one a case was made with (same torch)."""
    return float(sum(p.detach().double().abs().sum() for p in net.parameters()))


def _named(got, names):
    if not isinstance(got, tuple) or len(got) != len(names):
        raise Failed(f"returned {type(got).__name__} of {len(got) if isinstance(got, tuple) else 1}, "
                     f"expected a tuple ({', '.join(names)})")
    return dict(zip(names, got, strict=True))


def outputs(case, modules):
    """Run the case's function from modules {"utils", "vae", "gmvae", "ssvae"} on its inputs.
    Returns {name: what the function gave back} (tensors as returned, unchecked); raises whatever
    the code under test raises, or Failed when it returns the wrong number of outputs."""
    kind, args = case["kind"], case["args"]
    utils = modules["utils"]
    torch.manual_seed(args.get("draw", 0))
    if kind == "function":
        return {"out": getattr(utils, case["function"])(*map(decode, args["tensors"]))}
    if kind == "sample_shape":
        m, v = decode(args["m"]), decode(args["v"])
        return {"z": utils.sample_gaussian(m, v), "m": m, "v": v}
    if kind == "sample_moments":
        shape = args["shape"]
        return {"z": utils.sample_gaussian(torch.full(shape, args["mean"]), torch.full(shape, args["var"]))}
    if kind == "sample_gradients":
        m, v = decode(args["m"]).requires_grad_(), decode(args["v"]).requires_grad_()
        z = utils.sample_gaussian(m, v)
        if isinstance(z, torch.Tensor) and z.requires_grad:
            z.sum().backward()
        return {"z": z, "m_grad": m.grad, "v_grad": v.grad}
    net = build(modules, args["model"], args["config"], args["seed"], args.get("tiny", False), args.get("sharp", 1.0))
    if "fingerprint" in args and abs(fingerprint(net) - args["fingerprint"]) > 1e-6 * args["fingerprint"]:
        raise Failed("the seeded model is not the one this case was made with: install requirements.txt's torch")
    torch.manual_seed(args.get("draw", 0))
    if kind == "model_kl":
        return {"out": net.kl(*(decode(args[k]) for k in ("m", "v", "z")))}
    x, names = decode(args["x"]), NAMES[args["model"]]
    if kind == "vae_bound_kl":
        const = torch.full((len(x),), float(args["kl"]))
        net.kl = lambda m, v, z: const
        return _named(net.negative_elbo_bound(x), names)
    if kind == "rec_mc" and args["model"] == "VAE":
        return {"rec": _named(net.negative_elbo_bound(x.repeat(args["repeats"], 1), reduce=False), names)["rec"]}
    if kind == "rec_mc":
        draws = [_named(net.negative_elbo_bound(x), names)["rec"] for _ in range(args["repeats"])]
        return {"rec": torch.stack(draws) if all(isinstance(t, torch.Tensor) and t.dim() == 0 for t in draws)
                else draws[0]}
    out = _named(net.negative_elbo_bound(x), names)
    if kind == "vae_bound":
        out.update({k + "_each": t for k, t in _named(net.negative_elbo_bound(x, reduce=False), names).items()})
    return out


def _tensor(name, got, shape):
    """got as a float64 tensor, or Failed unless it is a finite floating tensor of the shape."""
    if not isinstance(got, torch.Tensor) or got.layout != torch.strided:  # a str: the type's name (child.py)
        raise Failed(f"{name}: returned {got if isinstance(got, str) else type(got).__name__}, not a tensor")
    if got.dtype not in FLOATS:
        raise Failed(f"{name}: a tensor of {str(got.dtype).removeprefix('torch.')}, not of floats")
    if tuple(got.shape) != tuple(shape):
        what = " (a scalar: the mean over the batch)" if not shape else ""
        raise Failed(f"{name}: shape {tuple(got.shape)}, expected {tuple(shape)}{what}")
    got = got.detach().double()
    if not torch.isfinite(got).all():
        raise Failed(f"{name}: not finite ({got.flatten()[~torch.isfinite(got.flatten())][0].item()})")
    return got


def close(name, got, want, rtol, atol, batch=None):
    """Fails unless got (a tensor of want's shape) is within atol + rtol * |want| of want."""
    got, want = _tensor(name, got, want.shape), want.double()
    bad = (got - want).abs() > atol + rtol * want.abs()
    if bad.any():
        i = bad.flatten().nonzero()[0, 0]
        g, w = got.flatten()[i].item(), want.flatten()[i].item()
        hint = ""
        if batch and w and abs(g / w - batch) < 1e-3 * batch:
            hint = f" ({batch} times: a sum over the batch, not its mean?)"
        raise Failed(f"{name}: {g:.6g} where {w:.6g} was expected{hint}")


def _identity(got, total, parts, atol):
    whole = sum(got[p] for p in parts)
    if (got[total] - whole).abs().max() > atol + 1e-5 * whole.abs().max():
        raise Failed(f"{total} != {' + '.join(parts)} ({got[total].mean().item():.6g} "
                     f"against {whole.mean().item():.6g})")


def run(case, modules):
    """Run and judge one case in this process (the student's check). Returns None when it passes;
    raises Failed (or whatever the code under test raises) when it does not."""
    judge(case, outputs(case, modules))


def judge(case, got):
    """Judge the raw outputs `got` ({name: value}, as `outputs` returns them, from wherever) of a
    case against what a correct function satisfies and case["expected"]. Trusts nothing in `got`:
    returns None when it passes, raises Failed when it does not."""
    if not isinstance(got, dict):
        raise Failed("no outputs")
    kind, args, want = case["kind"], case["args"], {k: decode(v) for k, v in case.get("expected", {}).items()}
    rtol, atol = case.get("rtol", 1e-5), case.get("atol", 1e-6)
    if kind == "function":
        close("the result", got.get("out"), want["out"], rtol, atol)
    elif kind == "model_kl":
        close("the KL", got.get("out"), want["out"], rtol, atol)
    elif kind.startswith("sample"):
        _sample(kind, args, got)
    elif kind == "rec_mc":
        _rec_mc(args, got, want)
    else:
        _bound(kind, args, got, want, rtol, atol)


def _sample(kind, args, got):
    if kind == "sample_moments":
        mean, var, shape = args["mean"], args["var"], args["shape"]
        z = _tensor("z", got.get("z"), shape)
        n = z.numel()
        if abs(z.mean().item() - mean) > SE * math.sqrt(var / n):
            raise Failed(f"the mean of {n} samples is {z.mean().item():.4g}, expected {mean} "
                         f"(+- {SE * math.sqrt(var / n):.2g})")
        if abs(z.var().item() - var) > SE * var * math.sqrt(2 / (n - 1)):
            raise Failed(f"the variance of {n} samples is {z.var().item():.4g}, expected {var}")
        if len(shape) > 1 and shape[-1] > 1:  # coordinates drawn independently: eps of m's shape
            rows = z.reshape(-1, shape[-1])
            off = (torch.corrcoef(rows.t()) - torch.eye(shape[-1], dtype=rows.dtype)).abs().nan_to_num(1.0).max()
            if off > SE / math.sqrt(len(rows)):
                raise Failed(f"the coordinates of {len(rows)} samples are correlated ({off.item():.3g}): "
                             "draw an independent eps for every coordinate")
        return
    m, v = decode(args["m"]), decode(args["v"])
    if kind == "sample_shape":
        z = _tensor("z", got.get("z"), torch.broadcast_shapes(m.shape, v.shape))
        after = [got.get(k) for k in ("m", "v")]
        if not all(isinstance(t, torch.Tensor) and t.dtype == m.dtype and t.shape == m.shape for t in after) \
                or not (torch.equal(after[0], m) and torch.equal(after[1], v)):
            raise Failed("m or v was changed in place")
        if torch.equal(z, m.expand_as(z)):
            raise Failed("z equals m: no noise added")
        return
    z = _tensor("z", got.get("z"), m.shape)
    if got.get("m_grad") is None or got.get("v_grad") is None:
        raise Failed("z does not depend on m and v through autograd (reparameterize: no gradient is cut)")
    if not torch.allclose(_tensor("dz/dm", got["m_grad"], m.shape), torch.ones_like(m), atol=1e-6):
        raise Failed("dz/dm is not 1: z must be m plus noise")
    if not torch.allclose(_tensor("d(sum z)/dv", got["v_grad"], v.shape), (z - m) / (2 * v), rtol=1e-4, atol=1e-6):
        raise Failed("d(sum z)/dv is not (z - m) / (2 v): z must be m + sqrt(v) * eps")


def _rec_mc(args, got, want):
    """rec of one image drawn args["repeats"] times: the spread of one draw and the mean of many."""
    n = args["repeats"]
    rec = _tensor("rec", got.get("rec"), (n,))
    var, mean = want["rec_var"].item(), want["rec_mean"].item()
    if not var / 3 < rec.var().item() < 3 * var:
        raise Failed(f"rec of one image drawn {n} times has variance {rec.var().item():.3g}, expected about "
                     f"{var:.3g}: rec must come from z sampled once per example (z = m or dec(m) do not vary)")
    tolerance = SE * math.sqrt(var / n + want["rec_se"].item() ** 2)
    if abs(rec.mean().item() - mean) > tolerance:
        raise Failed(f"the mean of rec over {n} draws is {rec.mean().item():.6g}, expected "
                     f"{mean:.6g} (+- {tolerance:.2g}) from many samples of z ~ q(z | x)")


def _bound(kind, args, got, want, rtol, atol):
    names, batch = NAMES[args["model"]], len(args["x"]["values"])
    if kind == "vae_bound_kl":
        out = {k: _tensor(k, got.get(k), ()) for k in names}
        close("kl", out["kl"], torch.tensor(float(args["kl"])), 0, 1e-5)
        _identity(out, "nelbo", names[1:], atol)
        return
    for suffix, shape, said in (("", (), ""), ("_each", (batch,), " with reduce=False")):
        if suffix and kind != "vae_bound":
            return
        out = {}
        for name in names:
            if name + suffix in want:
                close(name + said, got.get(name + suffix), want[name + suffix], rtol, atol, batch)
            out[name] = _tensor(name + said, got.get(name + suffix), shape)
        _identity(out, "nelbo", names[1:], atol)
