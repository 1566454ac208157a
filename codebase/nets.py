"""The networks: MLPs with two hidden layers of width 300, as in the CS236 assignment."""
from torch import nn

from codebase import utils


class MLP(nn.Module):
    """(a, optional one-hot y) -> hidden -> hidden -> d_out.

    The first layer acts on the concatenation (a, y) as W_a a + W_y y + b, computed in two parts:
    y may then broadcast against a, so with y ranging over every label a's share (the costly
    784 x 300 product for images) is computed once per input instead of once per (input, label).
    """

    def __init__(self, d_in, d_out, y_dim=0, hidden=300, activation=nn.ELU):
        super().__init__()
        self.a_in = nn.Linear(d_in, hidden)
        self.y_in = nn.Linear(y_dim, hidden, bias=False) if y_dim else None
        self.net = nn.Sequential(activation(), nn.Linear(hidden, hidden), activation(),
                                 nn.Linear(hidden, d_out))

    def forward(self, a, y=None):
        """a: tensor: (..., d_in); y: tensor: (..., y_dim), broadcastable against a's leading dims
        Returns: tensor: (broadcast leading dims, d_out)
        """
        h = self.a_in(a)
        return self.net(h if y is None else h + self.y_in(y))


class Encoder(MLP):
    """q(z | x) or, with y_dim > 0, q(z | x, y): a diagonal Gaussian, 784-300-300-(2 * z_dim), ELU."""

    def __init__(self, z_dim, x_dim=784, y_dim=0):
        super().__init__(x_dim, 2 * z_dim, y_dim)

    def forward(self, x, y=None):
        """x: tensor: (..., 784); y: tensor: (..., y_dim) or None
        Returns m, v: tensors: (..., z_dim): mean and variance
        """
        return utils.gaussian_parameters(super().forward(x, y))


class Decoder(MLP):
    """p(x | z) or, with y_dim > 0, p(x | z, y): Bernoulli logits, z_dim-300-300-784, ELU."""

    def __init__(self, z_dim, x_dim=784, y_dim=0):
        super().__init__(z_dim, x_dim, y_dim)


class Classifier(MLP):
    """q(y | x): logits over the classes, 784-300-300-y_dim, ReLU."""

    def __init__(self, y_dim=10, x_dim=784):
        super().__init__(x_dim, y_dim, activation=nn.ReLU)
