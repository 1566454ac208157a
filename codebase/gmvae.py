"""The VAE with a learnable uniform mixture of Gaussians as its prior."""
import math

import torch
from torch import nn

from codebase import draw, utils
from codebase.flags import flag, positive_int
from codebase.model import Published
from codebase.vae import BOUNDS, IW_FULL, VAE, VALIDATION, Z


class GMVAE(VAE):
    """Generative story: i ~ Uniform{1..k}; z ~ N(mu_i, diag(v_i)); x | z ~ Bernoulli(decoder(z)).
    Inference: q(z | x) = N(m(x), diag(v(x))), as in the VAE.

    Only the prior differs from the VAE. Its KL has no closed form, so it is estimated with the
    posterior sample z: log q(z | x) - log p(z).
    """

    script = "run_gmvae.py"
    flags = (Z, flag("--k", type=positive_int, default=500, help="mixture components in the prior"),
             VALIDATION, IW_FULL)
    named_by, named_if_changed = ("z", "k"), ("validation",)
    pictures = {**VAE.pictures, "components": draw.components}
    published = (Published(dict(z_dim=10, k=500), ("GMVAE", "GMVAE"), dict(zip(BOUNDS, [
        (97, 3), (17.5, 1), (80, 2), (97, 2.5), (94, 2.5), (93, 2.5), (93, 2.5)], strict=True))),)

    def __init__(self, z_dim=10, k=500):
        super().__init__(z_dim)
        self.k = k
        # Means and (pre-softplus) variances of the k components: (1, 2k, z_dim).
        self.z_pre = nn.Parameter(torch.randn(1, 2 * k, z_dim) / math.sqrt(k * z_dim))

    @classmethod
    def configuration(cls, args):
        return dict(z_dim=args.z, k=args.k)

    def prior(self):
        """Returns m, v: tensors: (1, k, z_dim): the components' means and variances."""
        return utils.gaussian_parameters(self.z_pre, dim=1)

    def log_prior(self, z):
        """z: tensor: (batch, z_dim) -> log p(z): tensor: (batch,)"""
        return utils.log_normal_mixture(z, *self.prior())

    def kl(self, m, v, z):
        """One-sample Monte Carlo estimate of KL(q(z | x) || p(z)): tensor: (batch,)"""
        return utils.log_normal(z, m, v) - self.log_prior(z)

    def sample_z(self, n):
        """Returns z: tensor: (n, z_dim): a component drawn uniformly, then z from it."""
        m, v = self.prior()
        i = torch.randint(self.k, (n,), device=m.device)
        return utils.sample_gaussian(m[0, i], v[0, i])
