"""Evaluation on the fixed test data: the bounds and the accuracy."""
import math
import sys

import torch

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
    A model whose negative_iwae_bound raises NotImplementedError (the student's starter) gets no
    IWAE bound, and a notice on stderr says why.
    Returns dict: name -> float
    """
    model.eval()
    torch.manual_seed(seed)
    x = mnist.test_subset
    nelbo, kl, rec = (t.mean().item() for t in _per_image(model.negative_elbo_bound, utils.duplicate(x, repeats), ROWS))
    metrics = {"NELBO": nelbo, "KL": kl, "Rec": rec}
    iwae = True
    try:
        for iw in iws:
            xs = utils.duplicate(x, max(repeats // iw, 1))
            metrics[f"IWAE-{iw}"] = _per_image(_iwae(model, iw), xs, ROWS // iw)[0].mean().item()
    except NotImplementedError as e:
        print(f"notice: no IWAE bounds: {e}", file=sys.stderr)
        iwae = False
    if full_iw:
        full = [("NELBO", model.negative_elbo_bound, ROWS), (f"IWAE-{full_iw}", _iwae(model, full_iw), ROWS // full_iw)]
        for name, bound, chunk in full if iwae else full[:1]:
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
    return tuple(torch.cat(p) for p in zip(*parts, strict=True))


@torch.no_grad()
def accuracy(model, mnist, seed=0, valid=None):
    """Accuracy of model.classify on all 10000 test images: "accuracy" on the grey levels in
    [0, 1], the course's figure, and "accuracy_binarized" on the fixed binary images; with valid
    (a tensor of indices of training images held out of training), "accuracy_validation" on
    their grey levels too."""
    model.eval()

    def score(x, y):
        return (model.classify(x) == y).float().mean().item()

    out = {"accuracy": score(mnist.test_x.float() / 255, mnist.test_y),
           "accuracy_binarized": score(mnist.test_binary, mnist.test_y)}
    if valid is not None:
        out["accuracy_validation"] = score(mnist.train_x[valid].float() / 255, mnist.train_y[valid])
    return out
