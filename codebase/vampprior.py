"""The VAE with a VampPrior (Tomczak & Welling 2018): its prior is the mixture of the encoder's own
posteriors at k learned pseudo-inputs."""
import torch
import torch.nn.functional as F
from torch import nn

from codebase import draw
from codebase.flags import flag, positive_int
from codebase.gmvae import GMVAE
from codebase.model import Published
from codebase.vae import IW_FULL, VAE, VALIDATION, Z


@torch.no_grad()
def pseudo_inputs(model, mnist):
    """The k pseudo-inputs as images, in the order of the components picture (the most used
    first), so that each sits where its decoding does there. Returns tensor: (3, H, W)"""
    z, _ = model.enc(mnist.test_binary)
    return draw.grid(model.pseudo_inputs()[draw.component_order(model, z)], nrow=draw.COLUMNS)


class VampPrior(GMVAE):
    """Generative story: i ~ Uniform{1..k}; z ~ q(z | u_i); x | z ~ Bernoulli(decoder(z)).
    Inference: q(z | x) = N(m(x), diag(v(x))), as in the VAE.

    The prior p(z) = (1/k) sum_i q(z | u_i) is the encoder's posterior at k learned pseudo-inputs
    u_i, 784 pixels each in [0, 1]: the GMVAE's mixture with its components tied to the encoder
    instead of free. Only prior() differs from the GMVAE; the KL is its one-sample Monte Carlo
    estimate log q(z | x) - log p(z), and its components picture decodes the pseudo-inputs.
    """

    script = "run_vampprior.py"
    flags = (Z, flag("--k", type=positive_int, default=500, help="pseudo-inputs of the prior"), VALIDATION, IW_FULL)
    pictures = {**GMVAE.pictures, "pseudo_inputs": pseudo_inputs}
    published = (Published(dict(z_dim=10, k=500), ("VampPrior", "VampPrior")),)

    def __init__(self, z_dim=10, k=500):
        VAE.__init__(self, z_dim)  # the VAE's networks; the pseudo-inputs replace the GMVAE's free components
        self.k = k
        # The pseudo-inputs before their clamp to [0, 1] (see pseudo_inputs): (k, 784), near 0.05 at first,
        # inside the clamp, where their gradient flows.
        self.u_pre = nn.Parameter(0.05 + 0.01 * torch.randn(k, 784))

    def pseudo_inputs(self):
        """Returns u: tensor: (k, 784): the pseudo-inputs, in [0, 1]"""
        return F.hardtanh(self.u_pre, 0.0, 1.0)

    def prior(self):
        """Returns m, v: tensors: (1, k, z_dim): the means and variances of q(z | u_i)."""
        m, v = self.enc(self.pseudo_inputs())
        return m.unsqueeze(0), v.unsqueeze(0)
