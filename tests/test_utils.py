"""codebase.utils against independent references (torch.distributions, brute force), in float64."""
import math

import pytest
import torch
from torch.distributions import Bernoulli, Categorical, Independent, MixtureSameFamily, Normal, kl_divergence

from codebase import utils


@pytest.fixture(autouse=True)
def float64_and_seed():
    torch.set_default_dtype(torch.float64)
    torch.manual_seed(0)
    yield
    torch.set_default_dtype(torch.float32)


def gaussian(*shape):
    return torch.randn(*shape), torch.rand(*shape) + 0.1


def test_sample_gaussian_is_reparameterized():
    m, v = gaussian(5, 3)
    m.requires_grad_(), v.requires_grad_()
    torch.manual_seed(1)
    z = utils.sample_gaussian(m, v)
    torch.manual_seed(1)
    eps = torch.randn(5, 3)
    assert torch.allclose(z, m + v.sqrt() * eps)
    z.sum().backward()
    assert torch.allclose(m.grad, torch.ones(5, 3)) and torch.allclose(v.grad, eps / (2 * v.sqrt()))
    many = utils.sample_gaussian(torch.full((200000,), 2.0), torch.full((200000,), 9.0))
    assert many.mean() == pytest.approx(2.0, abs=0.03) and many.var() == pytest.approx(9.0, rel=0.02)


def test_log_normal():
    x, (m, v) = torch.randn(4, 6), gaussian(4, 6)
    assert torch.allclose(utils.log_normal(x, m, v), Normal(m, v.sqrt()).log_prob(x).sum(-1))
    # Broadcasting: points (batch, 1, dim) against components (1, mix, dim), by brute force.
    z, (m, v) = torch.randn(5, 1, 3), gaussian(1, 7, 3)
    got = utils.log_normal(z, m, v)
    assert got.shape == (5, 7)
    for i in range(5):
        for j in range(7):
            want = sum(-0.5 * math.log(2 * math.pi * v[0, j, d]) - (z[i, 0, d] - m[0, j, d]) ** 2 / (2 * v[0, j, d])
                       for d in range(3))
            assert got[i, j].item() == pytest.approx(want.item())
    # A variance broadcast along the last dimension too.
    assert torch.allclose(utils.log_normal(x, m[0, :4, :1].expand(4, 6), torch.full((1,), 2.0)),
                          Normal(m[0, :4, :1], math.sqrt(2)).log_prob(x).sum(-1))


@pytest.mark.parametrize("lead", [1, 5])
def test_log_normal_mixture(lead):
    z, (m, v) = torch.randn(5, 3), gaussian(lead, 7, 3)
    got = utils.log_normal_mixture(z, m, v)
    mixture = MixtureSameFamily(Categorical(logits=torch.zeros(lead, 7)), Independent(Normal(m, v.sqrt()), 1))
    assert got.shape == (5,) and torch.allclose(got, mixture.log_prob(z))
    brute = torch.stack([Normal(m[:, j], v[:, j].sqrt()).log_prob(z).sum(-1).exp() for j in range(7)]).mean(0).log()
    assert torch.allclose(got, brute)


def test_log_normal_mixture_is_accurate_in_float32_near_narrow_far_components():
    """Means far from 0 with small variances, where an expanded square cancels badly in float32."""
    m, v = torch.full((1, 4, 10), 30.0) + torch.arange(4.0).view(1, 4, 1) * 1e-2, torch.full((1, 4, 10), 1e-4)
    z = m[0, :2] + 1e-2 * torch.randn(2, 10)
    want = MixtureSameFamily(Categorical(logits=torch.zeros(1, 4)), Independent(Normal(m, v.sqrt()), 1)).log_prob(z)
    got = utils.log_normal_mixture(z.float(), m.float(), v.float())
    assert got.dtype == torch.float32 and torch.allclose(got.double(), want, atol=1e-3, rtol=1e-5)


def test_log_normal_mixture_stays_finite_far_from_every_component():
    """Far from every component, where each density underflows even in float64: the mixture's
    log-density (about -5e4 nats) is still torch.distributions' in float64, to float32's precision.
    The 50 components lie 0.1 nats apart there, so the sum over them counts, not only the largest."""
    z = torch.full((2, 10), 1e3, dtype=torch.float32)
    m = (torch.arange(50, dtype=torch.float32) * 1e-3).view(1, 50, 1).expand(1, 50, 10).contiguous()
    v = torch.full((1, 50, 10), 1e2, dtype=torch.float32)
    got = utils.log_normal_mixture(z, m, v)
    want = MixtureSameFamily(Categorical(logits=torch.zeros(1, 50, dtype=torch.float64)),
                             Independent(Normal(m.double(), v.double().sqrt()), 1)).log_prob(z.double())
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    assert torch.allclose(got.double(), want, rtol=0, atol=0.05)
    naive = utils.log_normal(z.unsqueeze(1), m, v).double().exp().mean(-1).log()
    assert torch.isinf(naive).all()  # what the stable form avoids


def test_kl_normal():
    (qm, qv), (pm, pv) = gaussian(4, 6), gaussian(6)
    want = kl_divergence(Independent(Normal(qm, qv.sqrt()), 1), Independent(Normal(pm, pv.sqrt()), 1))
    assert torch.allclose(utils.kl_normal(qm, qv, pm, pv), want)
    assert torch.allclose(utils.kl_normal(qm, qv, qm, qv), torch.zeros(4))


def test_kl_cat():
    q, p = torch.softmax(torch.randn(4, 10), -1), torch.softmax(torch.randn(4, 10), -1)
    want = kl_divergence(Categorical(probs=q), Categorical(probs=p))
    assert torch.allclose(utils.kl_cat(q, q.log(), p.log()), want)
    log_q = torch.log_softmax(torch.tensor([[1e4] + [0.0] * 9]), -1)  # one-hot q
    uniform = -math.log(10)
    assert utils.kl_cat(log_q.exp(), log_q, uniform).item() == pytest.approx(math.log(10))
    assert utils.kl_cat(torch.full((10,), 0.1), torch.full((10,), uniform), uniform).item() == pytest.approx(0)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_log_mean_exp(dim):
    x = torch.randn(3, 4, 5)
    assert torch.allclose(utils.log_mean_exp(x, dim), x.exp().mean(dim).log())
    big = x + 1000  # exp overflows; the shift-by-max identity by hand
    top = big.amax(dim, keepdim=True)
    assert torch.allclose(utils.log_mean_exp(big, dim), (big - top).exp().mean(dim).log() + top.squeeze(dim))


def test_gaussian_parameters():
    h = torch.randn(1, 8, 3)
    m, v = utils.gaussian_parameters(h, dim=1)
    assert m.shape == v.shape == (1, 4, 3) and torch.equal(m, h[:, :4])
    assert torch.allclose(v, torch.log1p(h[:, 4:].exp()) + 1e-8)
    _, v = utils.gaussian_parameters(torch.full((2, 6), -1e4))
    assert (v > 0).all()


def test_log_bernoulli_with_logits():
    x, logits = torch.bernoulli(torch.rand(4, 9)), torch.randn(4, 9) * 3
    got = utils.log_bernoulli_with_logits(x, logits)
    assert torch.allclose(got, Bernoulli(logits=logits).log_prob(x).sum(-1))
    p = torch.sigmoid(logits)
    assert torch.allclose(got, (x * p.log() + (1 - x) * (1 - p).log()).sum(-1))
    extreme = utils.log_bernoulli_with_logits(torch.tensor([[1.0, 0.0]]), torch.tensor([[-100.0, 100.0]]).float())
    assert torch.isfinite(extreme).all() and extreme.item() == pytest.approx(-200, rel=1e-4)
    wide = utils.log_bernoulli_with_logits(x, logits.expand(3, 4, 9))  # x broadcast over copies
    assert wide.shape == (3, 4) and torch.allclose(wide[2], got)


def elu(x):
    """utils.elu_ on a copy of x"""
    return utils.elu_(x.clone())


def test_softplus_and_elu_against_torch():
    x = torch.cat([torch.randn(200) * 5, torch.tensor([-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4])])
    assert torch.allclose(utils.softplus(x), torch.nn.functional.softplus(x))
    assert torch.allclose(elu(x), torch.nn.functional.elu(x))
    assert utils.softplus(torch.tensor([1e4])).item() == 1e4 and elu(torch.tensor([-1e4])).item() == -1
    x = torch.randn(6, 5, requires_grad=True)
    assert torch.autograd.gradcheck(utils.softplus, (x,)) and torch.autograd.gradcheck(elu, (x,))
    # In float32, within 2.5e-7 of float64's values (relative to them above 1).
    x = torch.randn(10000) * 10
    for mine, exact in ((utils.softplus, torch.nn.functional.softplus), (elu, torch.nn.functional.elu)):
        assert ((mine(x.float()).double() - exact(x)).abs() < 2.5e-7 * exact(x).abs().clamp(min=1)).all()


def test_elu_overwrites_its_input_with_the_values_and_gradients_of_its_formula():
    """elu_ writes into x, bit for bit, exp(min(x, 0)) - 1 + max(x, 0), and its gradient is
    grad * min(y + 1, 1): what the models computed before it worked in place."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(7, 300)
    a, grad = torch.randn(40, 7), torch.randn(40, 300)
    h = layer(a)
    want = h.detach().clamp(max=0).exp().sub(1).add(h.detach().clamp(min=0))
    y = utils.elu_(h)
    assert y is h and torch.equal(y.detach(), want)
    y.backward(grad)
    h_grad = grad * (want + 1).clamp(max=1)
    assert torch.equal(layer.weight.grad, h_grad.t() @ a) and torch.equal(layer.bias.grad, h_grad.sum(0))


@pytest.mark.parametrize("shape", [(4,), (4, 3), (4, 2, 3)])
def test_duplicate(shape):
    x = torch.randn(*shape)
    got = utils.duplicate(x, 3)
    assert got.shape == (12, *shape[1:]) and torch.equal(got, torch.cat([x, x, x]))
