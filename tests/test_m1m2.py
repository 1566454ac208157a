"""M1+M2: M2's Gaussian likelihood and bound against torch.distributions, the stacking, a run."""
import importlib
import json
import os
import re

import pytest
import torch
import torch.nn.functional as F

import run_m1m2
from codebase import data, draw, flags, m1m2, train, utils
from codebase.m1m2 import M1M2, M2
from test_models import diag, ssvae_reference


def gaussian_log_likelihood(a, out):
    """log N(a; m, diag(v)), out = (m, h) with v = softplus(h) + 1e-8, by torch.distributions"""
    m, h = out.chunk(2, dim=-1)
    return diag(m, F.softplus(h) + 1e-8).log_prob(a)


@pytest.fixture
def a():
    torch.manual_seed(0)
    return 3 * torch.randn(8, 6, dtype=torch.float64)


def test_m2_likelihood_is_a_diagonal_gaussian_broadcast_over_labels(a):
    model = M2(a_dim=6, z_dim=4, hidden=20).double()
    out = torch.randn(10, 8, 12, dtype=torch.float64)  # (labels, batch, 2 * a_dim)
    assert torch.allclose(model.log_likelihood(a, out), gaussian_log_likelihood(a, out), rtol=1e-12)


def test_m2_exact_sum_over_labels_equals_a_loop(a, monkeypatch):
    torch.manual_seed(0)
    model = M2(a_dim=6, z_dim=4, hidden=20).double()
    eps = torch.randn(10, len(a), 4, dtype=a.dtype)
    monkeypatch.setattr(utils, "sample_gaussian", lambda m, v: m + v.sqrt() * eps)
    got, want = model.negative_elbo_bound(a), ssvae_reference(model, a, eps, gaussian_log_likelihood)
    for g, w in zip(got, want, strict=True):
        assert g.item() == pytest.approx(w.item(), rel=1e-9)


@pytest.mark.slow
def test_the_stream_carries_m1s_codes_and_a_step_trains_m2_alone(mnist, monkeypatch):
    """batches: M1's codes of the SSVAE's minibatches, the unlabelled ones from the training images
    less the validation split. "mean" and "sample": of the freshly binarized images, the draws in
    the order of the images' stream and then M1's; "once": drawn from q1(a | x) of the grey levels.
    The loss is M2's on them: nothing reaches M1's weights. classify reads the mean code; the
    pixels' decoder is M1's decoder at the mean of p(a | z, y)."""
    args = flags.parser(M1M2).parse_args([])
    rows = data.validation_split(mnist.train_y)[0]
    for code in ("mean", "sample"):
        torch.manual_seed(0)
        model = M1M2(m1_z=6, z_dim=4, hidden=20, code=code)
        torch.manual_seed(1)
        au, al, yl = next(model.batches(mnist, args, seed=0))
        torch.manual_seed(1)
        xu, xl, want_yl = next(data.semisupervised(mnist, 0, rows=rows))
        (mu, vu), (ml, vl) = model.m1.enc(xu), model.m1.enc(xl)
        if code == "sample":
            mu, ml = mu + vu.sqrt() * torch.randn_like(mu), ml + vl.sqrt() * torch.randn_like(ml)
        assert torch.equal(au, mu) and torch.equal(al, ml) and torch.equal(yl, want_yl)
        model.loss(au, al, yl)[0].backward()
        assert all(p.grad is None for p in model.m1.parameters())
        assert all(p.grad is not None for p in model.m2.parameters())
    torch.manual_seed(0)
    model = M1M2(m1_z=6, z_dim=4, hidden=20, code="once")
    monkeypatch.setattr(utils, "sample_gaussian", lambda m, v: torch.cat([m, v], -1))  # what each draw is drawn from
    au, al, yl = next(model.batches(mnist, args, seed=0))
    unlabelled = rows[next(data.shuffled_batches(len(rows), seed=0))]
    labelled = data.course_subset(mnist.train_y, data.TRAIN_IDX)
    for got, i in ((au, unlabelled), (al, labelled)):
        assert torch.allclose(got, torch.cat(model.m1.enc(mnist.train_x[i].float() / 255), -1), atol=1e-6)
    assert torch.equal(yl, mnist.train_y[labelled])
    x = torch.bernoulli(torch.rand(8, 784, dtype=torch.float64))
    model = model.double()
    assert torch.equal(model.classify(x), model.m2.cls(model.m1.enc(x)[0]).argmax(-1))
    z, y = torch.randn(8, 4, dtype=x.dtype), F.one_hot(torch.arange(8), 10).to(x.dtype)
    assert torch.equal(model.dec(z, y), model.m1.dec(model.m2.dec(z, y).chunk(2, -1)[0]))


def test_keep_active_keeps_the_dimensions_whose_mean_varies_and_builds_m2_on_them():
    """M2 is rebuilt on the kept dimensions: M1's code is cut to them, the pixels are M1's
    decoder with 0 on the others; the choice travels in the weights (a fresh M1M2 loads it)."""
    torch.manual_seed(0)
    model = M1M2(m1_z=6, z_dim=4, hidden=20, code="mean").double()
    last = model.m1.enc.net[-1]  # its first 6 outputs are the code's means
    with torch.no_grad():
        last.weight[[1, 4]] = 0  # means 1 and 4 are the bias whatever the image
        last.weight[[0, 2, 3, 5]] *= 10
    x = torch.rand(500, 784, dtype=torch.float64)
    assert model.keep_active(x) == 4
    kept = [0, 2, 3, 5]
    assert model.active.tolist() == [True, False, True, True, False, True]
    assert model.m2.a_dim == 4 and model.m2.cls.inp.weight.shape == (20, 4)
    xl, yl = x[:8], torch.arange(8)
    m = model.m1.enc(xl)[0]
    assert torch.equal(model.m1_code(xl), m[:, kept])
    z, y = torch.randn(8, 4, dtype=x.dtype), F.one_hot(yl, 10).to(x.dtype)
    a = torch.zeros(8, 6, dtype=x.dtype)
    a[:, kept] = model.m2.dec(z, y).chunk(2, -1)[0]
    assert torch.equal(model.dec(z, y), model.m1.dec(a))
    again = M1M2(m1_z=6, z_dim=4, hidden=20).double()
    again.load_state_dict(model.state_dict())
    assert again.m2.a_dim == 4 and torch.equal(again.active, model.active)
    assert torch.equal(again.classify(x), model.classify(x))


@pytest.mark.slow
def test_the_average_is_the_exponential_average_of_the_weights_each_step_starts_from():
    """--average: m2_average, rebuilt with M2, holds sum_t (1 - d) d^(k - t) w_t + d^k w_0 after k
    steps from weights w_0 .. w_(k-1); the training goes on bit for bit as without it; classify and
    the pictures read the average; a fresh model loads it."""
    d, a = 0.9, torch.randn(4, 4)
    al, yl = torch.randn(10, 4), torch.arange(10)
    runs = []
    for average in (0.0, d):
        torch.manual_seed(0)
        model = M1M2(m1_z=6, z_dim=4, hidden=20, average=average)
        model._fit_m2(torch.tensor([True, False, True, True, False, True]))  # M2 and its average on 4 inputs
        optimizer, weights = train.optimizer(model), []
        for _ in range(5):
            weights.append([p.detach().clone() for p in model.m2.parameters()])
            train.step(model, optimizer, (a, al, yl))
        runs.append((model, weights))
    (plain, weights), (averaged, same) = runs
    assert all(torch.equal(p, q) for p, q in zip(plain.m2.parameters(), averaged.m2.parameters(), strict=True))
    for i, got in enumerate(averaged.m2_average.parameters()):
        want = weights[0][i]
        for w in weights:
            want = d * want + (1 - d) * w[i]
        assert torch.allclose(got, want, atol=1e-6) and not torch.allclose(got, weights[-1][i])
    x = torch.rand(8, 784)
    assert torch.equal(averaged.classify(x), averaged.m2_average.classify(averaged.m1_code(x)))
    z, y = torch.randn(8, 4), F.one_hot(torch.arange(8), 10).float()
    code = torch.zeros(8, 6)
    code[:, averaged.active] = averaged.m2_average.dec(z, y).chunk(2, -1)[0]
    assert torch.equal(averaged.dec(z, y), averaged.m1.dec(code))
    again = M1M2(m1_z=6, z_dim=4, hidden=20, average=d)
    again.load_state_dict(averaged.state_dict())
    assert torch.equal(again.classify(x), averaged.classify(x))
    with pytest.raises(SystemExit):
        flags.parser(M1M2).parse_args(["--average", "1"])


def test_m1m2_draws_the_ssvae_pictures_in_pixels(mnist):
    torch.manual_seed(0)
    model = M1M2().eval()
    assert draw.analogies(model, mnist).shape == (3, 302, 332)  # a test image, then labels 0-9
    assert draw.class_grid(model).shape == (3, 302, 602)  # a row of 20 samples per label


@pytest.mark.slow
def test_run_m1m2_trains_m1_first_then_reuses_it(workdir, capsys, monkeypatch):
    """A short M1 (20 iterations instead of 20000, no full-test-set bound): the first run trains
    it and records it as its own run of run_vae.py, the next reuses its checkpoint, and both M2
    runs train alike; --train 0 and --resume need nothing more."""
    m1_argv = m1m2._m1_argv
    monkeypatch.setattr(m1m2, "_m1_argv", lambda args, seed: m1_argv(args, seed) + ["--iw_full", "0"])
    argv = ["--iter_max", "10", "--cw", "30", "--m1_iter_max", "20"]
    assert run_m1m2.main(argv) == 0
    first = capsys.readouterr().out
    assert ("Training M1 first: python run_vae.py --z 50 --hidden 300 --layers 2 --activation elu --validation "
            "--run 0 --iter_max 20 --iw_full 0") in first
    m1 = "model=vae_z=50_beta=1_validation=1"
    assert f"m1: checkpoints/{m1}_run=0000/model-00020.pt" in first
    assert re.search(r"^m1: M2 models the \d+ of its 50 code dimensions whose posterior mean varies", first, re.M)
    name = "model=m1m2_gw=1_cw=30_z=10_hidden=500_layers=1_code=once_activation=relu_m1_iter_max=20_run=0000"
    record = json.load(open(f"logs/{name}/metrics.json"))
    assert record["model"] == "M1M2" and record["config"]["m1_run"] == m1
    assert record["repeat"].startswith("python run_m1m2.py --iter_max 10 --cw 30.0 --m1_iter_max 20 --run 0")
    assert 0 <= record["metrics"]["accuracy_validation"] <= 1
    assert re.search(r"^Validation set classification accuracy: \S+\nTest set classification accuracy", first, re.M)
    assert json.load(open(f"logs/{m1}_run=0000/metrics.json"))["iterations"] == 20
    assert os.path.exists(f"logs/{name}/analogies.png") and os.path.exists(f"logs/{name}/samples.png")
    accuracy = re.search(r"^Test set classification accuracy: (\S+)$", first, re.M)[1]
    assert run_m1m2.main(argv + ["--overwrite"]) == 0
    again = capsys.readouterr().out
    assert "Training" not in again and f"Test set classification accuracy: {accuracy}" in again
    assert run_m1m2.main(argv + ["--train", "0"]) == 0
    assert f"Test set classification accuracy: {accuracy}" in capsys.readouterr().out
    longer = ["--iter_max", "20"] + argv[2:]  # M2 is refitted to the checkpoint before the optimizer is built
    assert run_m1m2.main(longer + ["--resume"]) == 0
    resumed = capsys.readouterr().out
    assert f"Resuming {name} from iteration 10" in resumed
    assert run_m1m2.main(longer + ["--overwrite"]) == 0
    accuracy = re.search(r"^Test set classification accuracy: (\S+)$", capsys.readouterr().out, re.M)[1]
    assert f"Test set classification accuracy: {accuracy}" in resumed


@pytest.mark.slow
def test_an_m1_stopped_before_its_first_checkpoint_starts_afresh(workdir, capsys, monkeypatch):
    """run_m1m2.py killed while its M1 trains, before M1's first checkpoint, leaves M1's log folder:
    the same command again trains M1 afresh (run_vae.py --resume), where it once ended on "run ...
    already exists"."""
    m1_argv = m1m2._m1_argv
    monkeypatch.setattr(m1m2, "_m1_argv", lambda args, seed: m1_argv(args, seed) + ["--iw_full", "0"])
    left = "logs/model=vae_z=50_beta=1_validation=1_run=0000"
    os.makedirs(left)
    open(f"{left}/events.out.tfevents.0", "w").close()
    assert run_m1m2.main(["--iter_max", "2", "--m1_iter_max", "4"]) == 0
    out, err = capsys.readouterr()
    assert "--run 0 --iter_max 4 --iw_full 0 --resume" in out and "has no checkpoint yet; it starts afresh" in err
    assert not os.path.exists(f"{left}/events.out.tfevents.0")


@pytest.mark.slow
def test_the_curve_reads_each_checkpoints_validation_accuracy(workdir, capsys, monkeypatch):
    """experiments/m1m2_curve.py: a column per checkpoint, and at the last one the validation
    accuracy the run itself printed (a short M1 and M2, as above)."""
    m1_argv = m1m2._m1_argv
    monkeypatch.setattr(m1m2, "_m1_argv", lambda args, seed: m1_argv(args, seed) + ["--iw_full", "0"])
    argv = ["--iter_max", "10", "--iter_save", "5", "--cw", "30", "--m1_iter_max", "20"]
    assert run_m1m2.main(argv) == 0
    printed = float(re.search(r"^Validation set classification accuracy: (\S+)$", capsys.readouterr().out, re.M)[1])
    assert importlib.import_module("experiments.m1m2_curve").main(argv) == 0
    table = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    assert table[0] == "| seed | 5 | 10 |" and table[2].startswith("| 0 | ")
    assert table[2].split(" | ")[-1] == f"{printed:.4f} |" and len(table) == 3


@pytest.mark.slow
def test_m1_takes_the_papers_network_and_names_its_run_by_it(workdir, capsys, monkeypatch):
    """--m1_hidden/--m1_layers/--m1_activation reach M1's own run (run_vae.py's flags), name both
    runs, and M1M2 rebuilds that M1 from its checkpoint's config."""
    m1_argv = m1m2._m1_argv
    monkeypatch.setattr(m1m2, "_m1_argv", lambda args, seed: m1_argv(args, seed) + ["--iw_full", "0"])
    argv = ["--iter_max", "2", "--m1_iter_max", "60", "--m1_hidden", "20", "--m1_layers", "1",
            "--m1_activation", "softplus", "--m1_z", "4"]
    assert run_m1m2.main(argv) == 0
    m1 = "model=vae_z=4_beta=1_hidden=20_layers=1_activation=softplus_validation=1_run=0000"
    record = json.load(open(f"logs/{m1}/metrics.json"))
    assert record["config"] == dict(z_dim=4, beta=1.0, hidden=20, layers=1, activation="softplus")
    name = ("model=m1m2_gw=1_cw=1_z=10_hidden=500_layers=1_code=once_activation=relu_m1_z=4_m1_hidden=20_m1_layers=1_"
            "m1_activation=softplus_m1_iter_max=60_run=0000")
    checkpoint = torch.load(f"checkpoints/{name}/model-00002.pt", weights_only=False)
    model = M1M2(**checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    assert isinstance(model.m1.enc.net[0], torch.nn.Softplus) and model.m1.enc.inp.out_features == 20
