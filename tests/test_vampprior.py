"""The VampPrior against torch.distributions: its prior is the mixture of the encoder's posteriors at
the pseudo-inputs, each computed here one pseudo-input at a time; its run script end to end."""
import math
import os
import re

import pytest
import torch
from torch.distributions import Bernoulli, Categorical, Independent, MixtureSameFamily, Normal

import run_vampprior
from codebase.vampprior import VampPrior


def diag(m, v):
    return Independent(Normal(m, v.sqrt()), 1)


def reference_prior(model):
    """(1/k) sum_i q(z | u_i), each q(z | u_i) from the encoder on pseudo-input i alone"""
    u = model.pseudo_inputs()
    m, v = zip(*(model.enc(u[i:i + 1]) for i in range(model.k)), strict=True)
    m, v = torch.cat(m), torch.cat(v)
    return MixtureSameFamily(Categorical(logits=torch.zeros(model.k, dtype=m.dtype)), diag(m, v))


@pytest.fixture
def model():
    torch.manual_seed(0)
    model = VampPrior(z_dim=3, k=7).double()
    with torch.no_grad():  # pseudo-inputs that differ, some beyond the clamp
        model.u_pre.copy_(torch.rand(7, 784, dtype=torch.float64) * 1.4 - 0.2)
    return model


@pytest.fixture
def x():
    torch.manual_seed(1)
    return torch.bernoulli(torch.rand(6, 784, dtype=torch.float64))


def test_pseudo_inputs_are_clamped_to_pixels(model):
    u = model.pseudo_inputs()
    assert u.shape == (7, 784) and u.min() == 0 and u.max() == 1
    assert torch.equal(u, model.u_pre.clamp(0, 1))


def test_the_prior_is_the_mixture_of_the_posteriors_at_the_pseudo_inputs(model):
    z = torch.randn(50, 3, dtype=torch.float64) * 2
    assert torch.allclose(model.log_prior(z), reference_prior(model).log_prob(z), rtol=1e-10)


def test_elbo_and_iwae_against_hand_built_references(model, x):
    """-ELBO = KL + Rec, the KL one-sample log q(z|x) - log p(z); -IWAE-5; the same noise as the model's."""
    torch.manual_seed(2)
    nelbo, kl, rec = model.negative_elbo_bound(x)
    torch.manual_seed(2)
    m, v = model.enc(x)
    z = m + v.sqrt() * torch.randn_like(m)
    prior = reference_prior(model)
    assert kl.item() == pytest.approx((diag(m, v).log_prob(z) - prior.log_prob(z)).mean().item(), rel=1e-9)
    assert rec.item() == pytest.approx(-Bernoulli(logits=model.dec(z)).log_prob(x).sum(-1).mean().item(), rel=1e-9)
    assert nelbo.item() == pytest.approx(kl.item() + rec.item(), rel=1e-12)
    torch.manual_seed(3)
    niwae = model.negative_iwae_bound(x, 5)[0]
    torch.manual_seed(3)
    m, v = model.enc(x)
    z = m + v.sqrt() * torch.randn(5 * len(x), 3, dtype=x.dtype).view(5, len(x), 3)
    log_w = Bernoulli(logits=model.dec(z)).log_prob(x).sum(-1) + prior.log_prob(z) - diag(m, v).log_prob(z)
    assert niwae.item() == pytest.approx(-(torch.logsumexp(log_w, 0) - math.log(5)).mean().item(), rel=1e-9)


def test_the_loss_trains_the_pseudo_inputs_inside_the_clamp_only(model, x):
    model.loss(x)[0].backward()
    inside = (model.u_pre > 0) & (model.u_pre < 1)
    assert model.u_pre.grad[inside].abs().sum() > 0 and model.u_pre.grad[~inside].abs().sum() == 0


def test_samples_come_from_the_mixture(model):
    """The draws' mean and variance are the mixture's: the mean of the components' means, and the
    mean of their second moments less the squared mean."""
    torch.manual_seed(0)
    m, v = (t[0] for t in model.prior())
    z = model.sample_z(200000)
    mean, var = m.mean(0), (v + m ** 2).mean(0) - m.mean(0) ** 2
    se = (var / len(z)).sqrt()
    assert ((z.mean(0) - mean).abs() < 4 * se).all()
    assert torch.allclose(z.var(0), var, rtol=0.02)


@pytest.mark.slow
def test_run_script_prints_the_vaes_lines_and_draws_the_pseudo_inputs(workdir, capsys):
    assert run_vampprior.main(["--iter_max", "20", "--k", "30", "--iw_full", "0"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^NELBO: \S+\. KL: \S+\. Rec: \S+$", out, re.M)
    assert [int(k) for k in re.findall(r"^Negative IWAE-(\d+): ", out, re.M)] == [1, 10, 100, 1000]
    run = "model=vampprior_z=10_k=30_run=0000"
    assert {"samples.png", "components.png", "pseudo_inputs.png", "metrics.json"} <= set(os.listdir(f"logs/{run}"))
