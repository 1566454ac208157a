"""The networks: MLPs with two hidden layers of width 300, as in the CS236 assignment."""
import torch
import torch.nn.functional as F
from torch import nn

from codebase import utils


class ConcatLinear(nn.Linear):
    """nn.Linear over the concatenation (a, y), computed as W_a a + W_y y + b.

    It is one nn.Linear(d_a + d_y, d_out), so it is initialized exactly as one (every column drawn
    with the bound of the whole fan-in d_a + d_y, as in the course's code). Computed in two parts,
    y may broadcast against a: with y ranging over every label, a's share (the costly 784 x 300
    product for images) is computed once per input instead of once per (input, label).
    """

    def __init__(self, d_a, d_y, d_out):
        super().__init__(d_a + d_y, d_out)
        self.d_a = d_a

    def forward(self, a, y=None):
        """a: tensor: (..., d_a); y: tensor: (..., d_y) or None (d_y = 0), broadcastable against a
        Returns: tensor: (broadcast leading dims, d_out)
        """
        h = F.linear(a.reshape(-1, self.d_a), self.weight[:, :self.d_a], self.bias)
        if a.dim() != 2:
            # F.linear's own product on the flattened rows, its result reshaped without becoming a view for
            # autograd (as torch.matmul's is): in place on a view (add_ below, an in-place activation
            # after), autograd would copy the whole layer's output and gradient in the backward pass.
            h = torch.ops.aten._unsafe_view(h, (*a.shape[:-1], h.shape[-1]))
        if y is None:
            return h
        hy = F.linear(y, self.weight[:, self.d_a:])
        # Into h where it has the broadcast shape already (a's rows per label): no copy of the layer's output.
        return h.add_(hy) if h.shape == torch.broadcast_shapes(h.shape, hy.shape) else h + hy


class ELU(nn.Module):
    """nn.ELU(inplace=True)'s function, through utils.elu_ (vectorized on the CPU): it overwrites its
    input, a layer's fresh output."""

    def forward(self, x):
        return utils.elu_(x)


class ReLU(nn.ReLU):
    """nn.ReLU(inplace=True): it overwrites its input, a layer's fresh output, as ELU does; the
    values are the same bit for bit, without a new tensor of the activations' size."""

    def __init__(self):
        super().__init__(inplace=True)


ACTIVATIONS = {"elu": ELU, "relu": ReLU, "softplus": nn.Softplus}  # by the name a run script's --activation takes


class MLP(nn.Module):
    """(a, optional one-hot y) -> hidden -> ... -> hidden -> d_out, `layers` hidden layers."""

    def __init__(self, d_in, d_out, y_dim=0, hidden=300, activation=ELU, layers=2):
        super().__init__()
        self.inp = ConcatLinear(d_in, y_dim, hidden)
        deeper = [m for _ in range(layers - 1) for m in (activation(), nn.Linear(hidden, hidden))]
        self.net = nn.Sequential(*deeper, activation(), nn.Linear(hidden, d_out))

    def forward(self, a, y=None):
        """a: tensor: (..., d_in); y: tensor: (..., y_dim) or None, broadcastable against a
        Returns: tensor: (broadcast leading dims, d_out), in the parameters' dtype
        """
        # Under torch.autocast (training with --precision bf16) the layers multiply and activate in
        # bfloat16; the output returns to the parameters' float32 for the sums and losses after it.
        return self.net(self.inp(a, y)).to(self.inp.weight.dtype)


class Encoder(MLP):
    """q(z | x) or, with y_dim > 0, q(z | x, y): a diagonal Gaussian, x_dim-hidden-hidden-(2 * z_dim),
    by default 784-300-300-(2 * z_dim), ELU."""

    def __init__(self, z_dim, x_dim=784, y_dim=0, hidden=300, layers=2, activation=ELU):
        super().__init__(x_dim, 2 * z_dim, y_dim, hidden, activation, layers)

    def forward(self, x, y=None):
        """x: tensor: (..., 784); y: tensor: (..., y_dim) or None
        Returns m, v: tensors: (..., z_dim): mean and variance
        """
        return utils.gaussian_parameters(super().forward(x, y))


class Decoder(MLP):
    """p(x | z) or, with y_dim > 0, p(x | z, y): x_dim outputs (Bernoulli logits for images),
    z_dim-hidden-hidden-x_dim, by default z_dim-300-300-784, ELU."""

    def __init__(self, z_dim, x_dim=784, y_dim=0, hidden=300, layers=2, activation=ELU):
        super().__init__(z_dim, x_dim, y_dim, hidden, activation, layers)


class Classifier(MLP):
    """q(y | x): logits over the classes, x_dim-hidden-hidden-y_dim, by default 784-300-300-y_dim, ReLU."""

    def __init__(self, y_dim=10, x_dim=784, hidden=300, layers=2):
        super().__init__(x_dim, y_dim, hidden=hidden, activation=ReLU, layers=layers)
