"""One case of an item's function, run and judged: shared by the student's check (its expected
values stored in the starter) and the teacher's grader (its expected values computed by
independent references). It holds no solution: only what a correct function must satisfy.

A case is a dict: "item", "function" (a Part's qualified name), "name", "kind" (below), "args"
(tensors encoded by `encode`, numbers, configurations) and "expected" ({output: encoded tensor}).
Kinds:
    function: utils.<function>(*args) against expected["out"]
    sample_shape, sample_moments, sample_gradients: sample_gaussian's properties (no expected values)
    model_kl: the seeded model's kl(m, v, z) against expected["out"]
    vae_bound, ssvae_bound: the seeded model's negative_elbo_bound(x) against expected values
    vae_bound_kl: the VAE's bound takes its KL from self.kl (what the GMVAE inherits)
One-sample bounds are judged through what holds whatever the random stream: the identity
nelbo = kl + rec, the deterministic KLs, and with "tiny" the encoder's variances made ~1e-8 (the
variance half of its last bias set to -30), so z ~= m and rec is deterministic too.
"""
import math

import torch

MODELS = {"VAE": "vae", "GMVAE": "gmvae", "SSVAE": "ssvae"}


class Failed(Exception):
    """A case's outcome other than a pass: one line saying what differs."""


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


def _tensor(name, got, shape):
    if not isinstance(got, torch.Tensor):
        raise Failed(f"{name}: returned {type(got).__name__}, not a tensor")
    if tuple(got.shape) != tuple(shape):
        what = " (a scalar: the mean over the batch)" if not shape else ""
        raise Failed(f"{name}: shape {tuple(got.shape)}, expected {tuple(shape)}{what}")
    if not torch.isfinite(got).all():
        raise Failed(f"{name}: not finite ({got.flatten()[~torch.isfinite(got.flatten())][0].item()})")


def close(name, got, want, rtol, atol, batch=None):
    """Fails unless got (a tensor of want's shape) is within atol + rtol * |want| of want."""
    _tensor(name, got, want.shape)
    got, want = got.detach().double(), want.double()
    bad = (got - want).abs() > atol + rtol * want.abs()
    if bad.any():
        i = bad.flatten().nonzero()[0, 0]
        g, w = got.flatten()[i].item(), want.flatten()[i].item()
        hint = ""
        if batch and w and abs(g / w - batch) < 1e-3 * batch:
            hint = f" ({batch} times: a sum over the batch, not its mean?)"
        raise Failed(f"{name}: {g:.6g} where {w:.6g} was expected{hint}")


def _outputs(got, names):
    if not isinstance(got, tuple) or len(got) != len(names):
        raise Failed(f"returned {type(got).__name__} of {len(got) if isinstance(got, tuple) else 1}, "
                     f"expected a tuple ({', '.join(names)})")
    return dict(zip(names, got, strict=True))


def _identity(out, total, parts, atol):
    whole = sum(out[p].detach().double() for p in parts)
    if (out[total].detach().double() - whole).abs().max() > atol + 1e-5 * whole.abs().max():
        raise Failed(f"{total} != {' + '.join(parts)} ({out[total].detach().double().mean().item():.6g} "
                     f"against {whole.mean().item():.6g})")


def run(case, modules):
    """Run one case against modules {"utils", "vae", "gmvae", "ssvae"}. Returns None when it
    passes; raises Failed (or whatever the code under test raises) when it does not."""
    kind, args, want = case["kind"], case["args"], {k: decode(v) for k, v in case.get("expected", {}).items()}
    rtol, atol = case.get("rtol", 1e-5), case.get("atol", 1e-6)
    utils = modules["utils"]
    torch.manual_seed(args.get("draw", 0))
    if kind == "function":
        close("the result", getattr(utils, case["function"])(*map(decode, args["tensors"])), want["out"], rtol, atol)
    elif kind == "sample_shape":
        m, v = decode(args["m"]), decode(args["v"])
        before = m.clone(), v.clone()
        z = utils.sample_gaussian(m, v)
        _tensor("z", z, torch.broadcast_shapes(m.shape, v.shape))
        if not (torch.equal(m, before[0]) and torch.equal(v, before[1])):
            raise Failed("m or v was changed in place")
        if torch.equal(z, m.expand_as(z)):
            raise Failed("z equals m: no noise added")
    elif kind == "sample_moments":
        mean, var, shape = args["mean"], args["var"], args["shape"]
        z = utils.sample_gaussian(torch.full(shape, mean), torch.full(shape, var))
        _tensor("z", z, shape)
        n = z.numel()
        if abs(z.mean().item() - mean) > 5 * math.sqrt(var / n):
            raise Failed(f"the mean of {n} samples is {z.mean().item():.4g}, expected {mean} "
                         f"(+- {5 * math.sqrt(var / n):.2g})")
        if abs(z.var().item() - var) > 5 * var * math.sqrt(2 / (n - 1)):
            raise Failed(f"the variance of {n} samples is {z.var().item():.4g}, expected {var}")
    elif kind == "sample_gradients":
        m, v = decode(args["m"]).requires_grad_(), decode(args["v"]).requires_grad_()
        z = utils.sample_gaussian(m, v)
        _tensor("z", z, m.shape)
        if not z.requires_grad:
            raise Failed("z does not depend on m and v through autograd (reparameterize: no gradient is cut)")
        z.sum().backward()
        if m.grad is None or not torch.allclose(m.grad, torch.ones_like(m), atol=1e-6):
            raise Failed("dz/dm is not 1: z must be m plus noise")
        want_v = (z.detach() - m.detach()) / (2 * v.detach())
        if v.grad is None or not torch.allclose(v.grad, want_v, rtol=1e-4, atol=1e-6):
            raise Failed("d(sum z)/dv is not (z - m) / (2 v): z must be m + sqrt(v) * eps")
    else:
        _model_case(case, modules, want, rtol, atol)
    return None


def _model_case(case, modules, want, rtol, atol):
    kind, args = case["kind"], case["args"]
    net = build(modules, args["model"], args["config"], args["seed"], args.get("tiny", False), args.get("sharp", 1.0))
    if "fingerprint" in args and abs(fingerprint(net) - args["fingerprint"]) > 1e-6 * args["fingerprint"]:
        raise Failed("the seeded model is not the one this case was made with: install requirements.txt's torch")
    torch.manual_seed(args.get("draw", 0))
    if kind == "model_kl":
        m, v, z = (decode(args[k]) for k in ("m", "v", "z"))
        close("the KL", net.kl(m, v, z), want["out"], rtol, atol)
        return
    x = decode(args["x"])
    batch = len(x)
    if kind == "vae_bound_kl":
        const = torch.full((batch,), args["kl"])
        net.kl = lambda m, v, z: const
        out = _outputs(net.negative_elbo_bound(x), ("nelbo", "kl", "rec"))
        close("kl", out["kl"], const.mean(), 0, 1e-5)
        _identity(out, "nelbo", ("kl", "rec"), atol)
        return
    names = ("nelbo", "kl", "rec") if kind == "vae_bound" else ("nelbo", "kl_z", "kl_y", "rec")
    out = _outputs(net.negative_elbo_bound(x), names)
    for name in names:
        if name in want:
            close(name, out[name], want[name], rtol, atol, batch)
        else:
            _tensor(name, out[name], ())
    _identity(out, "nelbo", names[1:], atol)
    if kind == "vae_bound":
        out = _outputs(net.negative_elbo_bound(x, reduce=False), names)
        for name in names:
            if name in want:
                close(f"{name} with reduce=False", out[name], want[name + "_each"], rtol, atol)
            else:
                _tensor(f"{name} with reduce=False", out[name], (batch,))
        _identity(out, "nelbo", names[1:], atol)
