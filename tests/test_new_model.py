"""A model declared here, in the test alone, goes through every tool the course's models use:
its run script's function trains, resumes and evaluates it, the pictures command draws it, the
benchmark times it and the results page reports it. Nothing in codebase/ names it."""
import json
import os
import re

import pytest
import torch
from torch import nn
from torchvision.utils import make_grid

from codebase import bench, figures, flags, models, readme, records, report, run, utils
from codebase.model import Model, Published
from conftest import DATA_DIR

NAME = "model=pixels_scale=0.5"


class Pixels(Model):
    """x ~ prod_i Bernoulli(sigmoid(scale * w_i)): one free logit per pixel, no latent variable."""

    script, iterations, headline = "run_pixels.py", 30, "NLL"
    flags = (flags.flag("--scale", type=flags.nonnegative_float, default=1.0, help="the logits' scale"),)
    named_by = ("scale",)
    pictures = {"means": lambda model, mnist: make_grid(torch.sigmoid(model.scale * model.w).view(1, 1, 28, 28))}
    published = (Published(dict(scale=0.5), ("Pixels", "Píxeles"), {"NLL": (543, 10)}),)
    bench_iters = 7

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale
        self.w = nn.Parameter(torch.zeros(784))

    @classmethod
    def configuration(cls, args):
        return dict(scale=args.scale)

    def nll(self, x):
        """x: tensor: (batch, 784) -> tensor: (batch,): -log p(x)"""
        return -utils.log_bernoulli_with_logits(x, (self.scale * self.w).expand_as(x))

    def loss(self, x):
        nll = self.nll(x).mean()
        return nll, {"train/loss": nll}

    def evaluate(self, mnist, args, seed):
        return {"NLL": self.nll(mnist.test_subset).mean().item()}

    @staticmethod
    def printed(metrics):
        return [f"NLL: {metrics['NLL']}"]

    def samples(self, seed):
        torch.manual_seed(seed)
        x = torch.bernoulli(torch.sigmoid(self.scale * self.w).expand(20, 784))
        return make_grid(x.view(-1, 1, 28, 28), nrow=10)


@pytest.fixture
def pixels(monkeypatch):
    monkeypatch.setattr(models, "ALL", models.ALL + [Pixels])


def printed_nll(capsys):
    return float(re.search(r"^NLL: (\S+)$", capsys.readouterr().out, re.M)[1])


@pytest.mark.slow
def test_a_model_declared_once_goes_through_every_tool(pixels, workdir, capsys):
    # Train, interrupted at 20 of its 30 iterations (a second run that ends at 20), then resumed.
    assert run.main(Pixels, ["--scale", "0.5", "--iter_max", "20", "--iter_save", "10"]) == 0
    first = printed_nll(capsys)
    assert 530 < first < 784 * 0.6932  # from 784 log 2, the fair coins it starts as
    assert run.main(Pixels, ["--scale", "0.5", "--resume"]) == 0
    out = capsys.readouterr().out
    assert f"Resuming {NAME}_run=0000 from iteration 20" in out
    trained = float(re.search(r"^NLL: (\S+)$", out, re.M)[1])
    assert trained < first  # 30 steps of Adam fit the pixel means better than 20
    ckpt_dir = f"checkpoints/{NAME}_run=0000"
    assert sorted(os.listdir(ckpt_dir)) == ["model-00010.pt", "model-00020.pt", "model-00030.pt"]
    record = json.load(open(f"logs/{NAME}_run=0000/metrics.json"))
    assert record["model"] == "Pixels" and record["config"] == {"scale": 0.5} and record["iterations"] == 30
    assert {"samples.png", "means.png"} <= set(os.listdir(f"logs/{NAME}_run=0000"))

    # Evaluate the checkpoint again without training: the same figure.
    assert run.main(Pixels, ["--scale", "0.5", "--train", "0"]) == 0
    assert printed_nll(capsys) == trained

    # The pictures command rebuilds it from its checkpoint.
    assert figures.main([ckpt_dir, "--out", "pictures"]) == 0
    assert os.listdir("pictures") == ["means.png"]

    # The benchmark times it, from its checkpoint too (its default configuration: scale 1).
    assert run.main(Pixels, ["--iter_max", "4"]) == 0
    capsys.readouterr()
    assert bench.main(["--models", "pixels", "--warmup", "1", "--data-dir", DATA_DIR, "--jobs-iters", "0",
                       "--precision", "fp32", "--eager"]) == 0
    assert re.search(r"^pixels\s+fp32\s+\d+\.\d\s+–\s+–\s+\d+\.\d at 4\s+\d+\.\d min for 30",
                     capsys.readouterr().out, re.M)

    # The results page reports it beside its declared expected value.
    assert report.main(["--logs", "logs"]) == 0
    page = open("logs/RESULTS.md").read()
    assert f"| `Pixels(scale=0.5)` | 1 | NLL | {trained:.2f} | 543 ± 10 | yes (1/1 seeds) |" in page
    assert "## Pixels" in page and f"![means, seed 0]({NAME}_run=0000/means.png)" in page
    # And the README's results table, in the row it declares.
    found = [{**r, "dirty": False} for r in records.load(["logs"])]  # as from a committed tree, whatever this one is
    row = readme.blocks(records.aggregate(found), [])["results"].splitlines()[2]
    assert row == f"| Pixels | `python run_pixels.py --scale 0.5 --train 0` | 1 | NLL | {trained:.2f} | 543 ± 10 |"
