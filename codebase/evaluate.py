"""Evaluation on the fixed test data: the bounds, the accuracy, the sample grids."""
import torch
from torchvision.utils import save_image

from codebase import utils

IWS = (1, 10, 100, 1000)
ROWS = 2000  # images x importance samples per forward pass: bounds the evaluation's memory


@torch.no_grad()
def bounds(model, mnist, seed=0, repeats=100, iws=IWS):
    """NELBO, KL and Rec, each the mean of `repeats` one-sample estimates, and the negative IWAE
    bounds with iw samples, on the fixed 100 binary test images (mnist.test_subset).

    Returns dict: name -> float
    """
    model.eval()
    torch.manual_seed(seed)
    x = mnist.test_subset
    nelbo, kl, rec = _mean(model.negative_elbo_bound, utils.duplicate(x, repeats), ROWS)
    metrics = {"NELBO": nelbo, "KL": kl, "Rec": rec}
    for iw in iws:
        metrics[f"IWAE-{iw}"] = _mean(lambda c: model.negative_iwae_bound(c, iw), x, ROWS // iw)[0]
    return metrics


def _mean(bound, x, chunk):
    """The batch means a bound returns, computed over x in chunks of `chunk` rows (at least 1)."""
    parts = [torch.stack(bound(c)) * len(c) for c in torch.split(x, max(1, chunk))]
    return (sum(parts) / len(x)).tolist()


@torch.no_grad()
def accuracy(model, mnist, seed=0):
    """Classification accuracy of model.classify on the 10000 binary test images."""
    model.eval()
    return {"accuracy": (model.classify(mnist.test_x) == mnist.test_y).float().mean().item()}


def lines(metrics):
    """The printed form of the metrics (graders parse these lines)."""
    out = []
    if "NELBO" in metrics:
        out.append(f"NELBO: {metrics['NELBO']}. KL: {metrics['KL']}. Rec: {metrics['Rec']}")
    out += [f"Negative {k}: {v}" for k, v in metrics.items() if k.startswith("IWAE-")]
    if "accuracy" in metrics:
        out.append(f"Test set classification accuracy: {metrics['accuracy']}")
    return out


@torch.no_grad()
def sample_grid(model, path, seed=0, rows=10, cols=20):
    """Save rows x cols digits from p(x) as one image: each the Bernoulli mean given z ~ p(z)."""
    torch.manual_seed(seed)
    x = model.sample_sigmoid(rows * cols)
    save_image(x.view(-1, 1, 28, 28), path, nrow=cols, pad_value=1)


@torch.no_grad()
def class_grid(model, path, seed=0, cols=20):
    """Save a grid of samples from p(x | y), one row per label y, as Bernoulli means."""
    torch.manual_seed(seed)
    y = torch.arange(model.y_dim, device=model.cls.a_in.weight.device).repeat_interleave(cols)
    save_image(model.sample_sigmoid(y).view(-1, 1, 28, 28), path, nrow=cols, pad_value=1)
