"""codebase.evaluate: the course's repeats, the full-test-set estimates, the accuracy's images."""
import math

import pytest
import torch

from codebase import data, evaluate
from codebase.model import Model


class Recorder:
    """A stand-in model whose bounds are known functions of the images and that records calls.

    Per image: NELBO = sum of x, KL = 1, Rec = sum of x - 1; negative IWAE-k = sum of x + 1 / k.
    """

    def __init__(self):
        self.rows = {}

    def eval(self):
        return self

    def record(self, key, x, iw=1):
        assert len(x) * iw <= evaluate.ROWS  # the chunks keep memory bounded
        self.rows[key] = self.rows.get(key, 0) + len(x)

    def negative_elbo_bound(self, x, reduce=True):
        self.record("elbo", x)
        s = x.sum(-1)
        out = (s, torch.ones_like(s), s - 1)
        return tuple(t.mean() for t in out) if reduce else out

    def negative_iwae_bound(self, x, iw, reduce=True):
        self.record(iw, x, iw)
        s = x.sum(-1) + 1 / iw
        out = (s, s, s)
        return tuple(t.mean() for t in out) if reduce else out


@pytest.fixture
def fake():
    g = torch.Generator().manual_seed(0)
    test_x = torch.randint(0, 256, (300, 784), dtype=torch.uint8, generator=g)
    return data.MNIST(None, None, test_x, torch.arange(300) % 10,
                      test_binary=data.binarize(test_x, g), test_subset=torch.rand(100, 784, generator=g))


def test_course_repeats(fake):
    """NELBO, KL, Rec from 100 estimates per image; IWAE-k from max(100 // k, 1)."""
    model = Recorder()
    m = evaluate.bounds(model, fake, full_iw=0)
    s = fake.test_subset.sum(-1).mean().item()
    assert m["NELBO"] == pytest.approx(s, rel=1e-6) and m["KL"] == 1 and m["Rec"] == pytest.approx(s - 1, rel=1e-6)
    assert model.rows == {"elbo": 100 * 100, 1: 100 * 100, 10: 100 * 10, 100: 100, 1000: 100}
    for k in evaluate.IWS:
        assert m[f"IWAE-{k}"] == pytest.approx(s + 1 / k, rel=1e-6)
    assert not any(key.startswith("full/") for key in m)


def test_full_test_set_mean_and_standard_error(fake):
    model = Recorder()
    m = evaluate.bounds(model, fake, iws=(), full_iw=7)
    s = fake.test_binary.sum(-1).double()
    se = s.std().item() / math.sqrt(len(s))  # the sample standard deviation over images / sqrt(n)
    assert model.rows == {"elbo": 100 * 100 + 300, 7: 300}
    assert m["full/NELBO"] == pytest.approx(s.mean().item()) and m["full/NELBO_se"] == pytest.approx(se, rel=1e-5)
    assert (m["full/IWAE-7"] == pytest.approx(s.mean().item() + 1 / 7)
            and m["full/IWAE-7_se"] == pytest.approx(se, rel=1e-5))
    line = Model.printed(m)[-1]
    assert line == (f"Full test set (10000 images): NELBO: {m['full/NELBO']:.2f} ± {se:.2f}. "
                    f"IWAE-7: {m['full/IWAE-7']:.2f} ± {se:.2f}")


class NoIwae(Recorder):
    """A model whose IWAE bound is left to write, as in the student's starter."""

    def negative_iwae_bound(self, x, iw, reduce=True):
        raise NotImplementedError("write it")


def test_a_model_without_the_iwae_bound_gets_the_others_and_a_notice(fake, capsys):
    m = evaluate.bounds(NoIwae(), fake, full_iw=7)
    assert list(m) == ["NELBO", "KL", "Rec", "full/NELBO", "full/NELBO_se"]
    assert capsys.readouterr().err == "notice: no IWAE bounds: write it\n"
    assert m == {k: v for k, v in evaluate.bounds(Recorder(), fake, full_iw=7).items() if "IWAE" not in k}


class GreyOnly:
    """Right on images with grey levels strictly between 0 and 1, wrong on binary ones."""

    def __init__(self, y):
        self.y = y

    def eval(self):
        return self

    def classify(self, x):
        grey = ((x > 0) & (x < 1)).any(-1)
        return torch.where(grey, self.y, (self.y + 1) % 10)


def test_accuracy_is_on_grey_levels_with_the_binary_figure_beside(fake):
    m = evaluate.accuracy(GreyOnly(fake.test_y), fake)
    assert m == {"accuracy": 1.0, "accuracy_binarized": 0.0}
