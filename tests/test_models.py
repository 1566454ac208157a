"""The models' bounds against hand-built references with the same noise; short real trainings."""
import math

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Bernoulli, Categorical, Independent, MixtureSameFamily, Normal, kl_divergence

from codebase import data, evaluate, flags, models, utils
from codebase.gmvae import GMVAE
from codebase.m1m2 import M1M2
from codebase.ssvae import SSVAE
from codebase.vae import VAE


@pytest.fixture
def x():
    torch.manual_seed(0)
    return torch.bernoulli(torch.rand(8, 784, dtype=torch.float64))


def diag(m, v):
    return Independent(Normal(m, v.sqrt()), 1)


def mixture(model):
    m, v = model.prior()
    return MixtureSameFamily(Categorical(logits=torch.zeros(model.k, dtype=m.dtype)), diag(m[0], v[0]))


@pytest.mark.parametrize("make", [VAE, lambda: GMVAE(k=20)])
def test_elbo_against_a_hand_built_reference(make, x):
    """nelbo = kl + rec, each rebuilt from torch.distributions with the same posterior sample."""
    torch.manual_seed(1)
    model = make().double()
    torch.manual_seed(2)
    nelbo, kl, rec = model.negative_elbo_bound(x)
    torch.manual_seed(2)
    m, v = model.enc(x)
    z = m + v.sqrt() * torch.randn_like(m)
    q = diag(m, v)
    if isinstance(model, GMVAE):
        want_kl = q.log_prob(z) - mixture(model).log_prob(z)  # one-sample Monte Carlo
    else:
        want_kl = kl_divergence(q, diag(torch.zeros_like(m), torch.ones_like(v)))  # closed form
    want_rec = -Bernoulli(logits=model.dec(z)).log_prob(x).sum(-1)
    assert kl.item() == pytest.approx(want_kl.mean().item(), rel=1e-9)
    assert rec.item() == pytest.approx(want_rec.mean().item(), rel=1e-9)
    assert nelbo.item() == pytest.approx(kl.item() + rec.item(), rel=1e-12)


def test_vae_kl_is_deterministic(x):
    model = VAE().double()
    torch.manual_seed(3)
    a = model.negative_elbo_bound(x)
    torch.manual_seed(4)
    b = model.negative_elbo_bound(x)
    assert a[1] == b[1] and a[2] != b[2]


@pytest.mark.parametrize("make", [VAE, lambda: GMVAE(k=20)])
def test_iwae_against_a_hand_built_reference(make, x):
    torch.manual_seed(1)
    model = make().double()
    iw = 5
    torch.manual_seed(2)
    niwae = model.negative_iwae_bound(x, iw)[0]
    torch.manual_seed(2)
    m, v = model.enc(x)
    eps = torch.randn(iw * len(x), m.size(1), dtype=x.dtype).view(iw, len(x), -1)  # copy r of the batch
    z = m + v.sqrt() * eps  # (iw, batch, z)
    prior = mixture(model) if isinstance(model, GMVAE) else diag(torch.zeros_like(m), torch.ones_like(v))
    log_w = Bernoulli(logits=model.dec(z)).log_prob(x).sum(-1) + prior.log_prob(z) - diag(m, v).log_prob(z)
    want = -(torch.logsumexp(log_w, 0) - math.log(iw)).mean()
    assert niwae.item() == pytest.approx(want.item(), rel=1e-9)


def log_p_x_by_quadrature(model, x, width=8.0, points=101):
    """log p(x) = log of the integral of p(x | z) p(z) over z, for a VAE with z in 2-d: the sum
    over a grid of points x points on [-width, width]^2 (the trapezoid rule, its border negligible).

    x: tensor: (batch, 784) -> tensor: (batch,)"""
    g = torch.linspace(-width, width, points, dtype=x.dtype)
    z = torch.cartesian_prod(g, g)
    log_joint = torch.cat([Bernoulli(logits=model.dec(c)).log_prob(x.unsqueeze(1)).sum(-1)
                           for c in torch.split(z, 5000)], 1) + Normal(0.0, 1.0).log_prob(z).sum(-1)
    return torch.logsumexp(log_joint, 1) + 2 * math.log(g[1] - g[0])


@pytest.mark.slow
@torch.no_grad()
def test_iwae_tightens_towards_log_p_x_and_iwae_1_is_the_elbo(x):
    """-log p(x) by quadrature (z in 2-d) <= IWAE-k <= IWAE-1 = ELBO, IWAE-k falling towards
    -log p(x) as k grows (expectations; estimated from 20 copies of 8 images)."""
    torch.manual_seed(0)
    model = VAE(z_dim=2).double()
    nll = -log_p_x_by_quadrature(model, x).mean().item()
    torch.manual_seed(1)
    nelbo = model.negative_elbo_bound(utils.duplicate(x, 2000))[0].item()
    iwae = [model.negative_iwae_bound(utils.duplicate(x, 20), k)[0].item() for k in (1, 10, 100)]
    # Measured: nll 545.075, NELBO 545.899; IWAE-1, 10, 100: 546.007, 545.174, 545.074.
    assert iwae[0] == pytest.approx(nelbo, rel=2e-3)
    assert iwae[0] > iwae[1] > iwae[2] > nll - 0.02 and iwae[2] - nll < 0.1 < nelbo - nll


@pytest.mark.parametrize("make", [VAE, lambda: GMVAE(k=20)])
def test_per_image_bounds_average_to_the_batch_bounds(make, x):
    model = make().double()
    for bound in (model.negative_elbo_bound, lambda x, **kw: model.negative_iwae_bound(x, 3, **kw)):
        torch.manual_seed(7)
        means = bound(x)
        torch.manual_seed(7)
        per_image = bound(x, reduce=False)
        for mean, values in zip(means, per_image, strict=True):
            assert values.shape == (len(x),) and mean.item() == pytest.approx(values.mean().item(), rel=1e-12)


def test_beta_weights_the_kl_in_the_loss_only(x):
    model = VAE(beta=4.0).double()
    torch.manual_seed(5)
    loss, summaries = model.loss(x)
    torch.manual_seed(5)
    nelbo, kl, rec = model.negative_elbo_bound(x)
    assert loss.item() == pytest.approx((rec + 4 * kl).item())
    assert summaries["gen/elbo"].item() == pytest.approx(-nelbo.item())


def test_vae_samples_z_from_a_standard_normal():
    torch.manual_seed(0)
    z = VAE(z_dim=4).sample_z(50000)
    assert z.shape == (50000, 4)
    assert z.mean().abs() < 0.01 and (z.var() - 1).abs() < 0.01
    assert (z < -1).float().mean().item() == pytest.approx(Normal(0.0, 1.0).cdf(torch.tensor(-1.0)).item(), abs=0.005)


def test_ssvae_samples_x_given_each_label():
    """sample_sigmoid(y) is sigmoid(decoder(z, one_hot(y))) with z ~ N(0, I): the label is used."""
    model = SSVAE(z_dim=8).double()
    y = torch.arange(10).repeat(2)
    torch.manual_seed(3)
    got = model.sample_sigmoid(y)
    torch.manual_seed(3)
    z = torch.randn(len(y), 8, dtype=torch.float64)
    assert torch.allclose(got, torch.sigmoid(model.dec(z, F.one_hot(y, 10).double())), rtol=1e-12)
    assert not torch.allclose(got, torch.sigmoid(model.dec(z, torch.zeros(len(y), 10, dtype=torch.float64))))


def test_samples():
    for model in (VAE(), GMVAE(k=5)):
        x = model.sample_x(7)
        assert x.shape == (7, 784) and set(x.unique().tolist()) <= {0.0, 1.0}
        assert ((model.sample_sigmoid(3) > 0) & (model.sample_sigmoid(3) < 1)).all()


def test_gmvae_prior_is_a_uniform_mixture_of_learned_gaussians():
    torch.manual_seed(0)
    model = GMVAE(z_dim=2, k=2)
    assert isinstance(model, VAE) and model.z_pre.shape == (1, 4, 2)
    with torch.no_grad():
        model.z_pre[0, :2] = torch.tensor([[-10.0, -10.0], [10.0, 10.0]])  # means
        model.z_pre[0, 2:] = -5.0  # variances softplus(-5) ~ 0.007
    z = model.sample_z(4000)
    near = (z - 10).abs().amax(1) < 1
    assert ((z + 10).abs().amax(1) < 1).logical_xor(near).all()
    assert near.float().mean().item() == pytest.approx(0.5, abs=0.04)
    assert torch.allclose(model.log_prior(z), mixture(model).log_prob(z), atol=1e-4)


def bernoulli_log_likelihood(x, out):
    return Bernoulli(logits=out).log_prob(x).sum(-1)


def ssvae_reference(model, x, eps, log_likelihood=bernoulli_log_likelihood):
    """-ELBO of the SSVAE by an explicit loop over the labels, with the noise eps: (10, batch, z).
    log_likelihood: (x, decoder output) -> log p(x | z, y) per example"""
    logits = model.cls(x)
    q_y = torch.softmax(logits, -1)
    kl_y = kl_divergence(Categorical(logits=logits), Categorical(logits=torch.zeros(10, dtype=x.dtype)))
    kl_z, rec = torch.zeros(len(x), dtype=x.dtype), torch.zeros(len(x), dtype=x.dtype)
    for label in range(10):
        y = F.one_hot(torch.full((len(x),), label), 10).to(x.dtype)
        m, v = model.enc(x, y)
        z = m + v.sqrt() * eps[label]
        kl_z += q_y[:, label] * kl_divergence(diag(m, v), diag(torch.zeros_like(m), torch.ones_like(v)))
        rec -= q_y[:, label] * log_likelihood(x, model.dec(z, y))
    return (kl_y + kl_z + rec).mean(), kl_z.mean(), kl_y.mean(), rec.mean()


def test_ssvae_exact_sum_over_labels_equals_a_loop(x, monkeypatch):
    torch.manual_seed(0)
    model = SSVAE().double()
    eps = torch.randn(10, len(x), 64, dtype=x.dtype)
    monkeypatch.setattr(utils, "sample_gaussian", lambda m, v: m + v.sqrt() * eps)
    got, want = model.negative_elbo_bound(x), ssvae_reference(model, x, eps)
    for a, b in zip(got, want, strict=True):
        assert a.item() == pytest.approx(b.item(), rel=1e-9)
    nelbo, kl_z, kl_y, rec = got
    assert nelbo.item() == pytest.approx((kl_z + kl_y + rec).item(), rel=1e-12)


def test_ssvae_label_kl_bounds(x):
    model = SSVAE().double()
    assert 0 <= model.negative_elbo_bound(x)[2] <= math.log(10)
    with torch.no_grad():  # a classifier certain of class 3
        last = model.cls.net[-1]
        last.weight.zero_(), last.bias.zero_()
        last.bias[3] = 1e4
    assert model.negative_elbo_bound(x)[2].item() == pytest.approx(math.log(10))


def test_ssvae_loss(x, monkeypatch):
    model = SSVAE(gen_weight=0.5, class_weight=100).double()
    yl = torch.arange(8) % 10
    torch.manual_seed(6)
    loss, _ = model.loss(x, x, yl)
    torch.manual_seed(6)
    ce = F.cross_entropy(model.cls(x), yl)
    assert loss.item() == pytest.approx((100 * ce + 0.5 * model.negative_elbo_bound(x)[0]).item())
    supervised = SSVAE(gen_weight=0).double()
    monkeypatch.setattr(supervised, "negative_elbo_bound", lambda x: pytest.fail("bound computed"))
    assert supervised.loss(x, x, yl)[0].item() == pytest.approx(100 * F.cross_entropy(supervised.cls(x), yl).item())
    y = torch.arange(10)
    assert supervised.sample_x(y).shape == (10, 784) and supervised.classify(x).shape == (8,)


def train_steps(model, stream, steps):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    for _ in range(steps):
        loss, _ = model.loss(*next(stream))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.mark.slow
@pytest.mark.parametrize("make, steps, ceiling", [(VAE, 300, 155), (lambda: GMVAE(k=50), 200, 175)])
def test_short_training_lowers_the_test_bound(mnist, make, steps, ceiling):
    """From about 784 log 2 nats (a decoder near p = 1/2 everywhere) to below `ceiling` (measured
    on one CPU: VAE 145.0, GMVAE 162.4), with a KL that grew from near 0 as z came into use."""
    torch.manual_seed(0)
    model = make()
    before = evaluate.bounds(model, mnist, repeats=10, iws=(), full_iw=0)
    train_steps(model, data.unsupervised(mnist, seed=0), steps)
    after = evaluate.bounds(model, mnist, repeats=10, iws=(), full_iw=0)
    assert before["Rec"] == pytest.approx(784 * math.log(2), rel=0.01) and 0 <= before["KL"] < 1
    assert after["NELBO"] < ceiling and 5 < after["KL"] < 20
    assert after["NELBO"] == pytest.approx(after["KL"] + after["Rec"], rel=1e-5)


@pytest.mark.slow
def test_short_semisupervised_training_beats_supervised_alone_and_m1m2_beats_both(mnist):
    """The unlabelled ELBO helps the classifier: after the same steps from the same start, the
    semi-supervised model is more accurate than the one trained on the 100 labels alone; and
    M1+M2 with its defaults, on the code of a short M1 (2000 steps), beats them both."""
    accuracy = {}
    torch.manual_seed(0)
    m1 = VAE(50)
    train_steps(m1, data.unsupervised(mnist, seed=0), 2000)
    for cls, argv in ((SSVAE, ["-gw", "0"]), (SSVAE, []), (M1M2, [])):
        torch.manual_seed(0)
        args = flags.parser(cls).parse_args(argv)
        if cls is M1M2:  # its from_flags loads M1 from a run's checkpoint: here, the short M1 above
            model = M1M2(args.m1_z, args.z, args.hidden, args.layers, gen_weight=args.gw, class_weight=args.cw)
            model.m1.load_state_dict(m1.state_dict())
            model.keep_active(mnist.train_x.float() / 255)
        else:
            model = cls.from_flags(args, 0, mnist)
        train_steps(model, model.batches(mnist, args, seed=0), 1000)
        accuracy[f"{cls.__name__} {' '.join(argv)}"] = evaluate.accuracy(model, mnist)["accuracy"]
    # Measured 0.772 < 0.798 < 0.849 on the AMD, 2 threads; only the order is asked, not the gaps, which move
    # with the CPU model and thread count.
    assert 0.5 < accuracy["SSVAE -gw 0"] < accuracy["SSVAE "] < accuracy["M1M2 "], accuracy


# Every model of models.ALL: what the tools take of any model, checked on each.
EVERY = pytest.mark.parametrize("cls", models.ALL, ids=lambda cls: cls.__name__)


def default_model(cls):
    """cls's model of its run script's default flags, untrained (M1+M2's M1 too)"""
    torch.manual_seed(0)
    return cls(**cls.configuration(flags.parser(cls).parse_args([])))


def first_batch(cls, mnist, args):
    """The first training step's arguments to loss() of cls's untrained model of the flags `args`"""
    torch.manual_seed(0)
    model = cls(**cls.configuration(args))
    torch.manual_seed(0)  # the binarization draws from the global RNG
    return next(model.batches(mnist, args, seed=0))


@EVERY
def test_every_model_trains_on_its_batches_and_rebuilds_from_its_config(cls, mnist):
    model = default_model(cls)
    assert cls.configuration(flags.parser(cls).parse_args([])).items() <= model.config.items()
    batch = first_batch(cls, mnist, flags.parser(cls).parse_args([]))
    torch.manual_seed(1)
    loss, summaries = model.loss(*batch)
    assert loss.shape == () and torch.isfinite(loss) and summaries["train/loss"] is loss
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
    rebuilt = cls(**model.config)
    rebuilt.load_state_dict(model.state_dict())
    torch.manual_seed(1)
    assert rebuilt.loss(*batch)[0].item() == loss.item()


@EVERY
def test_every_model_draws_its_sample_grid(cls):
    grid = default_model(cls).samples(seed=0)
    assert grid.dim() == 3 and grid.shape[0] == 3 and 0 <= grid.min() and grid.max() <= 1


def other_values(names, options, default):
    """argv fragments that set a flag to values other than its default"""
    if options.get("action") == "store_true":
        return [[names[0]]]
    if "choices" in options:
        return [[names[0], c] for c in options["choices"] if c != default]
    step = 0.5 if isinstance(default, float) else 1
    return [[names[0], str(default + step)]]


def collisions(cls, mnist):
    """[argv]: the changes of one of cls's own flags that change the model's configuration or its
    training data, yet not the run's name (so that the two runs would share a folder)"""
    p = flags.parser(cls)
    default = p.parse_args([])
    found = []
    for names, options in cls.flags:
        for argv in other_values(names, options, p.get_default(options.get("dest", names[0].lstrip("-")))):
            args = p.parse_args(argv)
            differs = cls.configuration(args) != cls.configuration(default) or not all(
                torch.equal(a, b) for a, b in zip(first_batch(cls, mnist, args), first_batch(cls, mnist, default),
                                                  strict=True))
            if differs and cls.run_name(args) == cls.run_name(default):
                found.append(argv)
    return found


@pytest.mark.slow
@EVERY
def test_two_runs_that_train_differently_never_share_a_folder(cls, mnist):
    assert collisions(cls, mnist) == []


def test_a_subclass_that_forgets_to_name_a_flag_is_caught(mnist):
    """The check above fails on a model whose flag changes its configuration or its data but not its name."""

    class Pseudo(GMVAE):
        script = "run_pseudo.py"
        flags = (*GMVAE.flags, flags.flag("--pseudo", type=flags.positive_int, default=3))

        def __init__(self, pseudo=3, **kwargs):
            super().__init__(**kwargs)
            self.pseudo = pseudo

        @classmethod
        def configuration(cls, args):
            return {**super().configuration(args), "pseudo": args.pseudo}

    class Unnamed(GMVAE):
        script, named_if_changed = "run_unnamed.py", ()

    assert collisions(Pseudo, mnist) == [["--pseudo", "4"]]
    assert collisions(Unnamed, mnist) == [["--validation"]]


def test_a_subclass_has_none_of_its_parents_own_facts():
    """A model's run script, published rows and sweep are its own: a subclass that declares none has none."""

    class X(GMVAE):
        pass

    assert (X.script, X.published, X.sweep) == (None, (), None)
    assert not hasattr(X, "bench_minutes") and GMVAE.script == "run_gmvae.py" and GMVAE.published
    with pytest.raises(TypeError, match="X declares no run script"):
        flags.parser(X)
