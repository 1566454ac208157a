"""The importance-weighted autoencoder (Burda, Grosse & Salakhutdinov 2016): the VAE trained on the
k-sample importance-weighted bound instead of the ELBO."""
import torch

from codebase import draw
from codebase.flags import flag, positive_int
from codebase.model import Published
from codebase.vae import IW_FULL, VAE, VALIDATION, Z

ACTIVE = 0.01  # Burda et al.'s threshold: a latent dimension u is active if Var_x(E_q(z|x)[z_u]) > 0.01


@torch.no_grad()
def activity(model, mnist):
    """Burda et al.'s activity of each latent dimension u, Var_x(E_q(z|x)[z_u]) over the 10000
    binary test images. Returns tensor: (z_dim,)"""
    return model.enc(mnist.test_binary)[0].var(0)


@torch.no_grad()
def traversals(model, mnist, steps=11, span=3.0):
    """A row per latent dimension, the most active first: the first test image's posterior mean
    with that one dimension set to `steps` values from -span to span, decoded. An inactive
    dimension's row does not change. Returns tensor: (3, 30 z_dim + 2, 30 steps + 2)"""
    order = activity(model, mnist).argsort(descending=True)
    m = model.enc(mnist.test_subset[:1])[0]  # (1, z_dim)
    z = m.expand(model.z_dim * steps, -1).clone().view(model.z_dim, steps, model.z_dim)
    z[torch.arange(model.z_dim), :, order] = torch.linspace(-span, span, steps, dtype=m.dtype, device=m.device)
    return draw.grid(torch.sigmoid(model.dec(z)), nrow=steps)


class IWAE(VAE):
    """Generative story and inference: the VAE's (z ~ N(0, I); x | z ~ Bernoulli(decoder(z));
    q(z | x) = N(m(x), diag(v(x)))).

    Only the training objective differs. It maximizes the k-sample importance-weighted bound
        L_k(x) = E[log (1/k) sum_i w_i],  w_i = p(x, z_i) / q(z_i | x),  z_1..z_k ~ q(z | x),
    which rises towards log p(x) as k grows; L_1 is the ELBO (with k = 1 this is the VAE, its KL
    estimated from the sample). The gradient is the paper's estimator: the reparameterized
    gradients of log w_i, each weighted by its normalized weight w_i / sum_j w_j, which autograd
    takes from the log-mean-exp of the log-weights (negative_iwae_bound).
    """

    script = "run_iwae.py"
    flags = (Z, flag("--iw", type=positive_int, default=5,
                     help="importance samples of the training bound (1: the ELBO, as the VAE)"), VALIDATION, IW_FULL)
    named_by, named_if_changed = ("z", "iw"), ("validation",)
    pictures = {**VAE.pictures, "traversals": traversals}
    published = tuple(Published(dict(z_dim=10, iw=k), (f"IWAE, k = {k}", f"IWAE, k = {k}")) for k in (1, 5))

    def __init__(self, z_dim=10, iw=5):
        super().__init__(z_dim)
        self.iw = iw

    @classmethod
    def configuration(cls, args):
        return dict(z_dim=args.z, iw=args.iw)

    def loss(self, x):
        """The negative k-sample bound, k = self.iw, and its summaries."""
        niwae, kl, rec = self.negative_iwae_bound(x, self.iw)
        return niwae, {"train/loss": niwae, f"gen/iwae-{self.iw}": -niwae, "gen/kl_z": kl, "gen/rec": rec}

    def evaluate(self, mnist, args, seed):
        """The VAE's bounds, and "active": the latent dimensions whose activity exceeds ACTIVE"""
        return {**super().evaluate(mnist, args, seed), "active": float((activity(self, mnist) > ACTIVE).sum())}

    @staticmethod
    def printed(metrics):
        return VAE.printed(metrics) + [f"Active latent dimensions: {metrics['active']:.0f}"]
