"""The variational autoencoder (Kingma & Welling 2014) with a standard normal prior."""
import torch

from codebase import data, draw, evaluate, utils
from codebase.flags import flag, natural_int, nonnegative_float, positive_int
from codebase.model import Model, Published
from codebase.nets import ACTIVATIONS, Decoder, Encoder

BOUNDS = ("NELBO", "KL", "Rec", "IWAE-1", "IWAE-10", "IWAE-100", "IWAE-1000")
Z = flag("--z", type=positive_int, default=10, help="latent dimension")
IW_FULL = flag("--iw_full", type=natural_int, default=100,
               help="importance samples of the full-test-set IWAE bound (0: skip the full test set)")
VALIDATION = flag("--validation", action="store_true",
                  help="hold the validation split out of training (data.validation_split), as M1+M2's M1 does")
# The networks' shape, the course's by default; M1+M2's M1 takes the paper's (see m1m2.py).
NETWORK = (flag("--hidden", type=positive_int, default=300,
                help="the width of the encoder's and decoder's hidden layers"),
           flag("--layers", type=positive_int, default=2, help="hidden layers of the encoder and the decoder"),
           flag("--activation", choices=tuple(ACTIVATIONS), default="elu", help="the hidden layers' activation"))


class VAE(Model):
    """Generative story: z ~ p(z) = N(0, I); x | z ~ Bernoulli(sigmoid(decoder(z))).
    Inference: q(z | x) = N(m(x), diag(v(x))).

    The prior lives in three methods (`log_prior`, `kl`, `sample_z`): a model with another prior
    (the GMVAE) overrides those for its math, and declares its own facts beside them (its script,
    flags, run names, pictures, published rows; see model.Model).
    """

    script, iterations, headline = "run_vae.py", 20000, "NELBO"
    flags = (Z, flag("--beta", type=nonnegative_float, default=1.0, help="weight of the KL in the training loss"),
             *NETWORK, VALIDATION, IW_FULL)
    named_by, named_if_changed = ("z", "beta"), ("hidden", "layers", "activation", "validation")
    pictures = {"reconstructions": draw.reconstructions, "interpolations": draw.interpolations,
                "latent": draw.latent}
    published = (Published(dict(z_dim=10, beta=1.0), ("VAE", "VAE"), dict(zip(BOUNDS, [
        (100, 2), (19.5, 2), (82, 2), (99, 2.5), (97, 2.5), (96, 2.5), (95, 2.5)], strict=True))),)
    sweep = "beta"

    def __init__(self, z_dim=10, beta=1.0, hidden=300, layers=2, activation="elu"):
        super().__init__()
        self.z_dim, self.beta = z_dim, beta
        self.hidden, self.layers, self.activation = hidden, layers, activation
        self.enc = Encoder(z_dim, hidden=hidden, layers=layers, activation=ACTIVATIONS[activation])
        self.dec = Decoder(z_dim, hidden=hidden, layers=layers, activation=ACTIVATIONS[activation])

    @classmethod
    def configuration(cls, args):
        return dict(z_dim=args.z, beta=args.beta, hidden=args.hidden, layers=args.layers, activation=args.activation)

    @staticmethod
    def batches(mnist, args, seed, start=0):
        """(x,) from the training images, less the validation split with --validation"""
        return data.unsupervised(mnist, seed, start,
                                 rows=data.validation_split(mnist.train_y)[0] if args.validation else None)

    def evaluate(self, mnist, args, seed):
        return evaluate.bounds(self, mnist, seed=seed, full_iw=args.iw_full)

    # The prior p(z) = N(0, I).
    def log_prior(self, z):
        """z: tensor: (batch, z_dim) -> log p(z): tensor: (batch,)"""
        return utils.log_normal(z, torch.zeros_like(z), torch.ones_like(z))

    def kl(self, m, v, z):
        """KL(q(z | x) || p(z)) per example, here in closed form (z, the posterior sample, unused).

        m, v: tensors: (batch, z_dim): q's mean and variance; z: tensor: (batch, z_dim)
        Returns: tensor: (batch,)
        """
        return utils.kl_normal(m, v, torch.zeros_like(m), torch.ones_like(v))

    def sample_z(self, n):
        """Returns z: tensor: (n, z_dim) drawn from p(z)."""
        w = self.enc.inp.weight
        return torch.randn(n, self.z_dim, dtype=w.dtype, device=w.device)

    # The bounds.
    def negative_elbo_bound(self, x, reduce=True):
        """-ELBO = KL(q(z|x) || p(z)) + E_q[-log p(x|z)], the expectation from one sample of z.

        x: tensor: (batch, 784): binary images
        Returns nelbo, kl, rec: scalar tensors, each the mean over the batch (reduce=False: tensors
            (batch,), one per image)
        """
        m, v = self.enc(x)
        z = utils.sample_gaussian(m, v)
        kl = self.kl(m, v, z)
        rec = -utils.log_bernoulli_with_logits(x, self.dec(z))
        return _mean(kl + rec, kl, rec) if reduce else (kl + rec, kl, rec)

    def negative_iwae_bound(self, x, iw, reduce=True):
        """-log (1/iw) sum_i p(x, z_i) / q(z_i | x), z_i ~ q(z | x): tighter as iw grows.

        x: tensor: (batch, 784): binary images; iw: int: number of importance samples
        Returns niwae, kl, rec: scalar tensors, means over the batch (kl and rec are the one-sample
            estimates averaged over the iw samples); reduce=False: tensors (batch,), one per image
        """
        m, v = self.enc(x)
        m, v, x = utils.duplicate(m, iw), utils.duplicate(v, iw), utils.duplicate(x, iw)
        z = utils.sample_gaussian(m, v)
        log_q_p = utils.log_normal(z, m, v) - self.log_prior(z)  # (iw * batch,)
        log_px = utils.log_bernoulli_with_logits(x, self.dec(z))
        log_w = (log_px - log_q_p).view(iw, -1)  # (iw, batch)
        niwae = -utils.log_mean_exp(log_w, dim=0)
        kl, rec = log_q_p.view(iw, -1).mean(0), -log_px.view(iw, -1).mean(0)
        return _mean(niwae, kl, rec) if reduce else (niwae, kl, rec)

    def loss(self, x):
        """Training loss rec + beta * kl (beta = 1: the negative ELBO) and its summaries."""
        nelbo, kl, rec = self.negative_elbo_bound(x)
        loss = rec + self.beta * kl
        return loss, {"train/loss": loss, "gen/elbo": -nelbo, "gen/kl_z": kl, "gen/rec": rec}

    # Sampling from p(x).
    def sample_sigmoid(self, n):
        """Returns tensor: (n, 784): the Bernoulli means sigmoid(decoder(z)), z ~ p(z)."""
        return torch.sigmoid(self.dec(self.sample_z(n)))

    def sample_x(self, n):
        """Returns tensor: (n, 784): binary images x ~ p(x)."""
        return torch.bernoulli(self.sample_sigmoid(n))


def _mean(*per_example):
    return tuple(t.mean() for t in per_example)

