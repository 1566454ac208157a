"""Evaluation on the fixed test data: the bounds, the accuracy, the sample grids."""
import math
import statistics

import torch
from torchvision.utils import make_grid

from codebase import utils

IWS = (1, 10, 100, 1000)
ROWS = 2000  # images x importance samples per forward pass: bounds the evaluation's memory


@torch.no_grad()
def bounds(model, mnist, seed=0, repeats=100, iws=IWS, full_iw=100):
    """The course's bounds on its 100 binary test images (mnist.test_subset), then estimates on
    the whole binary test set (mnist.test_binary).

    Course: NELBO, KL and Rec, each the mean of `repeats` one-sample estimates; the negative
    IWAE-k bound for k in iws, the mean of max(repeats // k, 1) estimates.
    Full test set (skipped when full_iw is 0): the NELBO and the negative IWAE-full_iw bound, one
    estimate per image, as "full/<name>" (the mean) and "full/<name>_se" (its standard error over
    the 10000 images).
    Returns dict: name -> float
    """
    model.eval()
    torch.manual_seed(seed)
    x = mnist.test_subset
    nelbo, kl, rec = (t.mean().item() for t in _per_image(model.negative_elbo_bound, utils.duplicate(x, repeats), ROWS))
    metrics = {"NELBO": nelbo, "KL": kl, "Rec": rec}
    for iw in iws:
        xs = utils.duplicate(x, max(repeats // iw, 1))
        metrics[f"IWAE-{iw}"] = _per_image(_iwae(model, iw), xs, ROWS // iw)[0].mean().item()
    if full_iw:
        for name, bound, chunk in (("NELBO", model.negative_elbo_bound, ROWS),
                                   (f"IWAE-{full_iw}", _iwae(model, full_iw), ROWS // full_iw)):
            per_image = _per_image(bound, mnist.test_binary, chunk)[0]
            metrics[f"full/{name}"] = per_image.mean().item()
            metrics[f"full/{name}_se"] = (per_image.std() / math.sqrt(len(per_image))).item()
    return metrics


def _iwae(model, iw):
    return lambda x, reduce: model.negative_iwae_bound(x, iw, reduce)


def _per_image(bound, x, chunk):
    """The per-image values a bound returns, over x in chunks of `chunk` rows (at least 1).

    bound: (x, reduce) -> tuple of tensors; x: tensor: (n, 784) -> tuple of tensors: (n,)
    """
    parts = [bound(c, reduce=False) for c in torch.split(x, max(1, chunk))]
    return tuple(torch.cat(p) for p in zip(*parts))


@torch.no_grad()
def accuracy(model, mnist, seed=0):
    """Accuracy of model.classify on all 10000 test images: "accuracy" on the grey levels in
    [0, 1], the course's figure, and "accuracy_binarized" on the fixed binary images."""
    model.eval()

    def score(x):
        return (model.classify(x) == mnist.test_y).float().mean().item()

    return {"accuracy": score(mnist.test_x.float() / 255), "accuracy_binarized": score(mnist.test_binary)}


def mean_se(values):
    """(mean, standard error = sample std / sqrt(n)); the error is nan for one value."""
    n = len(values)
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(n) if n > 1 else math.nan


def lines(metrics):
    """The printed form of the metrics (graders parse these lines)."""
    out = []
    if "NELBO" in metrics:
        out.append(f"NELBO: {metrics['NELBO']}. KL: {metrics['KL']}. Rec: {metrics['Rec']}")
    out += [f"Negative {k}: {v}" for k, v in metrics.items() if k.startswith("IWAE-")]
    full = [k[5:] for k in metrics if k.startswith("full/") and not k.endswith("_se")]
    if full:
        out.append("Full test set (10000 images): " + ". ".join(
            f"{k}: {metrics['full/' + k]:.2f} ± {metrics['full/' + k + '_se']:.2f}" for k in full))
    if "accuracy" in metrics:
        out.append(f"Test set classification accuracy: {metrics['accuracy']}")
    return out


@torch.no_grad()
def sample_grid(model, seed=0, rows=10, cols=20):
    """rows x cols digits from p(x), each the Bernoulli mean given z ~ p(z).

    Returns: tensor: (3, rows * 30 + 2, cols * 30 + 2): the grid image
    """
    torch.manual_seed(seed)
    x = model.sample_sigmoid(rows * cols)
    return make_grid(x.view(-1, 1, 28, 28), nrow=cols, pad_value=1)


@torch.no_grad()
def class_grid(model, seed=0, cols=20):
    """Samples from p(x | y) as Bernoulli means, one row per label y.

    Returns: tensor: (3, y_dim * 30 + 2, cols * 30 + 2): the grid image
    """
    torch.manual_seed(seed)
    y = torch.arange(model.y_dim, device=next(model.parameters()).device).repeat_interleave(cols)
    return make_grid(model.sample_sigmoid(y).view(-1, 1, 28, 28), nrow=cols, pad_value=1)
