"""The teacher's cases: the public ones (their inputs and the reference's outputs go into the
starter as data) and the hidden ones (other shapes, seeds and values; never copied to the
starter), and the independent references the grader judges both by: torch.distributions,
brute-force sums in float64, closed forms. Specs are plain data; `materialize` draws their inputs.

What each function's cases catch (see verify.py for the kinds):
- sample_gaussian: shapes and no change in place; the moments of many samples (v, not sqrt(v)),
  their coordinates uncorrelated (an eps per coordinate); the reparameterized gradients
  dz/dm = 1 and d(sum z)/dv = (z - m) / (2 v).
- VAE.kl: the closed form, per example. VAE.negative_elbo_bound: means over the batch (not sums,
  not per-example tensors), the KL from self.kl, rec through a tiny-variance encoder,
  reduce=False's per-example values, nelbo = kl + rec; rec of one image repeated in a batch
  varies from repeat to repeat (z sampled, not z = m) and its mean matches many samples'.
- log_normal: the log-determinant and 2 pi terms; broadcasting (batch, 1, dim) against (1, mix, dim).
- log_normal_mixture: the 1/k weight, a logsumexp (not a max); 500 components about 1e3 away with
  small variances, where exp then log gives -inf.
- GMVAE.kl: log q(z | x) - log p(z) at the given z, with the course's k = 500.
- SSVAE.negative_elbo_bound: KL_y against the uniform prior, KL_z and Rec summed over every label
  with q(y | x) (a sampled label fails the tiny-variance cases), with a sharp classifier too;
  rec of one image over many calls varies and its mean matches many samples' (z sampled).
"""
import math


def _spec(public, item, function, name, kind, **kw):
    return public, dict(item=item, function=function, name=name, kind=kind, **kw)


SG, VKL, VB, LN, LNM, GKL, SB = ("sample_gaussian", "VAE.kl", "VAE.negative_elbo_bound", "log_normal",
                                 "log_normal_mixture", "GMVAE.kl", "SSVAE.negative_elbo_bound")
SPECS = [  # (public?, spec)
    _spec(True, "1.1", SG, "shape (4, 3)", "sample_shape", shape=[4, 3], seed=0),
    _spec(False, "1.1", SG, "shape (2, 5, 3)", "sample_shape", shape=[2, 5, 3], seed=1),
    _spec(True, "1.1", SG, "200000 samples of N(2, 9)", "sample_moments", mean=2.0, var=9.0, shape=[200000]),
    _spec(False, "1.1", SG, "moments of N(-1, 0.25)", "sample_moments", mean=-1.0, var=0.25, shape=[50000, 4]),
    _spec(True, "1.1", SG, "the coordinates of 20000 samples", "sample_moments", mean=0.5, var=4.0,
          shape=[20000, 5]),
    _spec(True, "1.1", SG, "gradients (5, 3)", "sample_gradients", shape=[5, 3], seed=1),
    _spec(False, "1.1", SG, "gradients (3, 4, 2)", "sample_gradients", shape=[3, 4, 2], seed=7),
    _spec(True, "1.2", VKL, "z_dim 3, batch 4", "model_kl", model="VAE", z=3, batch=4, seed=2),
    _spec(False, "1.2", VKL, "z_dim 10, batch 6", "model_kl", model="VAE", z=10, batch=6, seed=11),
    _spec(False, "1.2", VKL, "far means", "model_kl", model="VAE", z=2, batch=3, seed=3, scale=30.0),
    _spec(True, "1.2", VB, "tiny variances, batch 5", "vae_bound", z=3, batch=5, seed=0, tiny=True),
    _spec(True, "1.2", VB, "batch 5", "vae_bound", z=3, batch=5, seed=1),
    _spec(True, "1.2", VB, "the KL from self.kl", "vae_bound_kl", z=3, batch=4, seed=0, kl=7.0),
    _spec(False, "1.2", VB, "tiny variances, z_dim 10", "vae_bound", z=10, batch=8, seed=5, tiny=True),
    _spec(False, "1.2", VB, "batch 3", "vae_bound", z=2, batch=3, seed=6),
    _spec(False, "1.2", VB, "the KL from self.kl, batch 7", "vae_bound_kl", z=2, batch=7, seed=4, kl=-3.5),
    _spec(True, "1.2", VB, "one image 1000 times", "rec_mc", z=3, seed=7, repeats=1000, samples=4000),
    _spec(False, "1.2", VB, "one image 500 times, z_dim 10", "rec_mc", z=10, seed=12, repeats=500, samples=4000),
    _spec(True, "2.1", LN, "(4, 6)", "function", shapes=[[4, 6]] * 3, seed=0),
    _spec(True, "2.1", LN, "(5, 1, 3) against (1, 7, 3)", "function", shapes=[[5, 1, 3], [1, 7, 3], [1, 7, 3]], seed=1),
    _spec(False, "2.1", LN, "(2, 3, 4) against (3, 4)", "function", shapes=[[2, 3, 4], [3, 4], [3, 4]], seed=2),
    _spec(False, "2.1", LN, "(8, 1, 10) against (1, 500, 10)", "function",
          shapes=[[8, 1, 10], [1, 500, 10], [1, 500, 10]], seed=3, scale=0.01),
    _spec(True, "2.1", LNM, "7 components", "function", shapes=[[5, 3], [1, 7, 3], [1, 7, 3]], seed=0),
    _spec(True, "2.1", LNM, "500 components far away", "function",
          shapes=[[4, 10], [1, 500, 10], [1, 500, 10]], seed=1, far=True),
    _spec(False, "2.1", LNM, "components per point", "function", shapes=[[6, 4], [6, 9, 4], [6, 9, 4]], seed=2),
    _spec(False, "2.1", LNM, "far away, float32", "function",
          shapes=[[3, 10], [1, 500, 10], [1, 500, 10]], seed=3, far=True, dtype="float32", rtol=1e-5),
    _spec(True, "2.1", GKL, "k 7, batch 5", "model_kl", model="GMVAE", z=3, k=7, batch=5, seed=0),
    _spec(True, "2.1", GKL, "the course's k 500", "model_kl", model="GMVAE", z=10, k=500, batch=4, seed=1),
    _spec(False, "2.1", GKL, "k 3, batch 6", "model_kl", model="GMVAE", z=2, k=3, batch=6, seed=2),
    _spec(True, "3.2", SB, "tiny variances, batch 5", "ssvae_bound", batch=5, seed=0, tiny=True),
    _spec(True, "3.2", SB, "batch 3", "ssvae_bound", batch=3, seed=1),
    _spec(False, "3.2", SB, "tiny variances, batch 8", "ssvae_bound", batch=8, seed=4, tiny=True),
    _spec(False, "3.2", SB, "batch 6", "ssvae_bound", batch=6, seed=9),
    _spec(False, "3.2", SB, "a sharp classifier", "ssvae_bound", batch=4, seed=3, tiny=True, sharp=20.0),
    _spec(True, "3.2", SB, "one image, 200 calls", "rec_mc", model="SSVAE", seed=5, repeats=200, samples=2000),
    _spec(False, "3.2", SB, "another image, 200 calls", "rec_mc", model="SSVAE", seed=13, repeats=200, samples=2000),
]
MODEL_TOLERANCE = dict(rtol=1e-4, atol=2e-3)  # float32 networks; rec through z = m + 1e-4 eps


def specs(public=None):
    """The specs, public ones first; public=True or False: only those."""
    return [s for p, s in sorted(SPECS, key=lambda ps: not ps[0]) if public is None or p == public]


def names(item):
    """{function: [case name]} of an item, in the order the grader runs them."""
    out = {}
    for s in specs():
        if s["item"] == item:
            out.setdefault(s["function"], []).append(s["name"])
    return out


def graded(function):
    """[(case, public?)] of a function as the grader judges them, public ones first: each drawn by
    this repository's code, with its expected values from the independent references. Uses torch's
    global seed: call it from one thread at a time."""
    from codebase import gmvae, ssvae, utils, vae
    modules = dict(utils=utils, vae=vae, gmvae=gmvae, ssvae=ssvae)
    public = {s["name"] for s in specs(public=True) if s["function"] == function}
    out = []
    for spec in (s for s in specs() if s["function"] == function):
        case = materialize(spec, modules)
        case["expected"] = expected(case, modules, "independent")
        out.append((case, spec["name"] in public))
    return out


def materialize(spec, modules):
    """The case (verify.py's form) of a spec, without its expected values: inputs drawn from its seed."""
    import torch

    from codebase.kit import verify
    enc = verify.encode
    kind = spec["kind"]
    case = {k: spec[k] for k in ("item", "function", "name", "kind")}
    case.update({k: spec[k] for k in ("rtol", "atol") if k in spec})
    torch.manual_seed(spec.get("seed", 0))
    if kind == "sample_moments":
        case["args"] = {k: spec[k] for k in ("mean", "var", "shape")}
    elif kind in ("sample_shape", "sample_gradients"):
        m, v = torch.randn(spec["shape"], dtype=torch.float64), torch.rand(spec["shape"], dtype=torch.float64) + 0.1
        case["args"] = {"m": enc(m), "v": enc(v)}
    elif kind == "function":
        dtype = getattr(torch, spec.get("dtype", "float64"))
        a, m, v = (torch.randn(s, dtype=torch.float64) for s in spec["shapes"])
        v = (torch.rand(spec["shapes"][2], dtype=torch.float64) + 0.1) * spec.get("scale", 1.0)
        if spec.get("far"):
            m, v = 1e3 + 0.1 * m, 0.01 + 0.01 * v
        case["args"] = {"tensors": [enc(t.to(dtype)) for t in (a, m, v)]}
        case.setdefault("rtol", 1e-6), case.setdefault("atol", 1e-8)
    else:
        model = spec.get("model", {"ssvae_bound": "SSVAE"}.get(kind, "VAE"))
        config = {"VAE": {"z_dim": spec.get("z")}, "GMVAE": {"z_dim": spec.get("z"), "k": spec.get("k")},
                  "SSVAE": {}}[model]
        args = dict(model=model, config=config, seed=spec["seed"], tiny=spec.get("tiny", False),
                    sharp=spec.get("sharp", 1.0))
        args["fingerprint"] = verify.fingerprint(verify.build(modules, **args))
        torch.manual_seed(spec["seed"] + 1000)
        if kind == "rec_mc":
            args.update(x=enc(torch.bernoulli(torch.full((1, 784), 0.3))), repeats=spec["repeats"],
                        samples=spec["samples"])
        elif kind == "model_kl":
            shape = (spec["batch"], spec["z"])
            args.update(m=enc(spec.get("scale", 1.0) * torch.randn(shape)), v=enc(torch.rand(shape) + 0.1),
                        z=enc(torch.randn(shape)))
        else:
            args["x"] = enc(torch.bernoulli(torch.full((spec["batch"], 784), 0.3)))
        if kind == "vae_bound_kl":
            args["kl"] = spec["kl"]
        case["args"] = args
        for k, v in MODEL_TOLERANCE.items():
            case.setdefault(k, v)
    return case


def expected(case, modules, by):
    """The case's expected values: by="reference" (this repository's functions, for the starter's
    public cases) or by="independent" (torch.distributions, brute force in float64; the grader's)."""
    import torch
    from torch.distributions import Bernoulli, Categorical, Independent, Normal, kl_divergence

    from codebase.kit import verify
    kind, args, enc, dec = case["kind"], case["args"], verify.encode, verify.decode
    if kind.startswith("sample") or kind == "vae_bound_kl":
        return {}
    if kind == "rec_mc":  # by either: many samples of z ~ q(z | x) through torch.distributions
        return _rec_mc(case, modules)

    def normal(m, v):
        return Independent(Normal(m.double(), v.double().sqrt()), 1)

    def log_mixture(z, m, v):
        logs = normal(m, v).log_prob(z.double().unsqueeze(-2))  # (batch, mix): every component, brute force
        return torch.logsumexp(logs, dim=-1) - math.log(m.size(-2))

    if kind == "function":
        x, m, v = map(dec, args["tensors"])
        if by == "reference":
            return {"out": enc(getattr(modules["utils"], case["function"])(x, m, v))}
        if case["function"] == "log_normal":
            return {"out": enc(Normal(m.double(), v.double().sqrt()).log_prob(x.double()).sum(-1))}
        return {"out": enc(log_mixture(x, m, v))}
    net = verify.build(modules, args["model"], args["config"], args["seed"], args["tiny"], args["sharp"])
    with torch.no_grad():
        if kind == "model_kl":
            m, v, z = (dec(args[k]) for k in ("m", "v", "z"))
            if by == "reference":
                return {"out": enc(net.kl(m, v, z))}
            if args["model"] == "VAE":
                out = kl_divergence(normal(m, v), normal(torch.zeros_like(m), torch.ones_like(v)))
            else:
                out = normal(m, v).log_prob(z.double()) - log_mixture(z, *net.prior())
            return {"out": enc(out)}
        x = dec(args["x"])
        if kind == "vae_bound":
            if by == "reference":
                torch.manual_seed(0)
                each = dict(zip(("nelbo", "kl", "rec"), net.negative_elbo_bound(x, reduce=False), strict=True))
            else:
                m, v = net.enc(x)
                kl = kl_divergence(normal(m, v), normal(torch.zeros_like(m), torch.ones_like(v)))
                rec = -Bernoulli(logits=net.dec(m).double()).log_prob(x.double()).sum(-1)
                each = {"nelbo": kl + rec, "kl": kl, "rec": rec}
            kept = each if args["tiny"] else {"kl": each["kl"]}
            return {**{k: enc(t.mean()) for k, t in kept.items()}, **{k + "_each": enc(t) for k, t in kept.items()}}
        # ssvae_bound
        if by == "reference":
            torch.manual_seed(0)
            out = dict(zip(("nelbo", "kl_z", "kl_y", "rec"), net.negative_elbo_bound(x), strict=True))
        else:
            logits = net.cls(x).double()
            q = logits.softmax(-1)
            uniform = Categorical(probs=torch.full_like(q, 1 / q.size(-1)))
            kl_y = kl_divergence(Categorical(logits=logits), uniform)
            kl_z, rec = torch.zeros_like(kl_y), torch.zeros_like(kl_y)
            for y in range(q.size(-1)):  # the label summed out, one label at a time
                onehot = torch.nn.functional.one_hot(torch.full((len(x),), y), q.size(-1)).float()
                m, v = net.enc(x, onehot)
                kl_z += q[:, y] * kl_divergence(normal(m, v), normal(torch.zeros_like(m), torch.ones_like(v)))
                rec += q[:, y] * -Bernoulli(logits=net.dec(m, onehot).double()).log_prob(x.double()).sum(-1)
            out = {"nelbo": kl_y + kl_z + rec, "kl_z": kl_z, "kl_y": kl_y, "rec": rec}
        kept = out if args["tiny"] else {k: out[k] for k in ("kl_z", "kl_y")}
        return {k: enc(t.mean()) for k, t in kept.items()}


def _rec_mc(case, modules):
    """E_q[-log p(x | z)] of the case's one image from args["samples"] draws of z (per label for
    the SSVAE, weighted by q(y | x)): its estimate, that estimate's standard error, and the
    variance of one draw as the bound takes it (the SSVAE's: one z per label)."""
    import torch
    from torch.distributions import Bernoulli, Normal

    from codebase.kit import verify
    args = case["args"]
    net = verify.build(modules, args["model"], args["config"], args["seed"])
    x, n = verify.decode(args["x"]), args["samples"]
    torch.manual_seed(args["seed"] + 2000)

    def rec(m, v, *label):  # (n,): -log p(x | z) of n draws of z ~ N(m, v)
        z = Normal(m.double(), v.double().sqrt()).sample((n,)).reshape(n, -1).float()
        logits = net.dec(z, *(y.expand(n, -1) for y in label))
        return -Bernoulli(logits=logits.double()).log_prob(x.double()).sum(-1)

    with torch.no_grad():
        if args["model"] == "VAE":
            draws = rec(*net.enc(x))
            mean, var = draws.mean().item(), draws.var().item()
        else:
            q = net.cls(x).double().softmax(-1)[0]
            mean = var = 0.0
            for y in range(len(q)):
                onehot = torch.nn.functional.one_hot(torch.tensor([y]), len(q)).float()
                draws = rec(*net.enc(x, onehot), onehot)
                mean, var = mean + q[y].item() * draws.mean().item(), var + q[y].item() ** 2 * draws.var().item()
    enc = verify.encode
    return {"rec_mean": enc(torch.tensor(mean)), "rec_var": enc(torch.tensor(var)),
            "rec_se": enc(torch.tensor(math.sqrt(var / n)))}
