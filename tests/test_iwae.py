"""The IWAE: its training bound and the paper's gradient estimator against computations by hand,
the activity of its latent dimensions, its run script end to end."""
import math
import os
import re

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal

import run_iwae
from codebase import iwae
from codebase.iwae import IWAE


def diag(m, v):
    return Independent(Normal(m, v.sqrt()), 1)


@pytest.fixture
def x():
    torch.manual_seed(1)
    return torch.bernoulli(torch.rand(6, 784, dtype=torch.float64))


def log_weights(model, x, eps):
    """log p(x, z_i) - log q(z_i | x) for z_i = m + sqrt(v) eps_i; eps: (k, batch, z_dim) -> (k, batch)"""
    m, v = model.enc(x)
    z = m + v.sqrt() * eps
    prior = diag(torch.zeros_like(m), torch.ones_like(v))
    return Bernoulli(logits=model.dec(z)).log_prob(x).sum(-1) + prior.log_prob(z) - diag(m, v).log_prob(z)


@pytest.mark.parametrize("k", [1, 5])
def test_the_loss_is_the_k_sample_bound(k, x):
    """k = 1: the one-sample ELBO (the VAE's bound, its KL from the sample)."""
    torch.manual_seed(0)
    model = IWAE(z_dim=3, iw=k).double()
    torch.manual_seed(2)
    loss = model.loss(x)[0]
    torch.manual_seed(2)
    log_w = log_weights(model, x, torch.randn(k * len(x), 3, dtype=x.dtype).view(k, len(x), 3))
    assert loss.item() == pytest.approx(-(torch.logsumexp(log_w, 0) - math.log(k)).mean().item(), rel=1e-9)


@pytest.mark.slow
def test_the_gradient_is_the_papers_estimator(x):
    """Burda et al.'s eq. (8): sum_i (w_i / sum_j w_j) grad log w_i, each term built by hand."""
    torch.manual_seed(0)
    model = IWAE(z_dim=3, iw=4).double()
    torch.manual_seed(2)
    model.loss(x)[0].backward()
    got = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    torch.manual_seed(2)
    eps = torch.randn(4 * len(x), 3, dtype=x.dtype).view(4, len(x), 3)
    log_w = log_weights(model, x, eps)
    weights = torch.softmax(log_w.detach(), 0)  # (k, batch): normalized importance weights
    for i in range(4):
        for n in range(len(x)):
            (-weights[i, n] * log_w[i, n] / len(x)).backward(retain_graph=True)
    for g, p in zip(got, model.parameters(), strict=True):
        assert torch.allclose(g, p.grad, rtol=1e-8, atol=1e-12)


def test_activity_and_traversals(mnist):
    """A dimension the decoder ignores keeps its row of the traversals constant; activity is the
    variance of the posterior means over the test images."""
    torch.manual_seed(0)
    model = IWAE(z_dim=4)
    with torch.no_grad():
        model.dec.inp.weight[:, 2] = 0  # z_2 changes nothing
        model.enc.net[-1].weight[2] = 0  # nor does its posterior mean vary over the images
        model.enc.net[-1].bias[2] = 0
    a = iwae.activity(model, mnist)
    assert torch.allclose(a, model.enc(mnist.test_binary)[0].var(0)) and a[2] == 0
    image = iwae.traversals(model, mnist, steps=5)
    assert image.shape == (3, 4 * 30 + 2, 5 * 30 + 2)
    last = image[:, 2 + 90:30 + 90]  # the least active dimension's row: z_2
    assert all(torch.equal(last[:, :, 2 + 30 * j:30 + 30 * j], last[:, :, 2:30]) for j in range(5))
    first = image[:, 2:30]
    assert not torch.equal(first[:, :, 2:30], first[:, :, 2 + 120:30 + 120])


@pytest.mark.slow
def test_run_script_prints_the_vaes_lines_and_its_active_dimensions(workdir, capsys):
    assert run_iwae.main(["--iter_max", "20", "--iw", "3", "--iw_full", "0"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^NELBO: \S+\. KL: \S+\. Rec: \S+$", out, re.M)
    assert [int(k) for k in re.findall(r"^Negative IWAE-(\d+): ", out, re.M)] == [1, 10, 100, 1000]
    active = int(re.search(r"^Active latent dimensions: (\d+)$", out, re.M)[1])
    assert 0 <= active <= 10
    run = "model=iwae_z=10_iw=3_run=0000"
    assert {"samples.png", "traversals.png", "latent.png", "metrics.json"} <= set(os.listdir(f"logs/{run}"))
