"""M1+M2 (Kingma, Rezende, Mohamed & Welling 2014, section 3.2): the semi-supervised M2 trained
on the code of M1, a VAE trained beforehand on all the images."""
import torch
import torch.nn.functional as F
from torch import nn

from codebase import utils
from codebase.nets import Classifier, Decoder, Encoder
from codebase.ssvae import SSVAE
from codebase.vae import VAE

ACTIVE_STD = 0.1  # M1's code dimensions whose posterior mean varies less over the images are left out


class M2(SSVAE):
    """The SSVAE on continuous inputs a (M1's code): p(a | y, z) = N(m(z, y), diag(v(z, y))).

    Only the likelihood and the inputs' size differ: the bound still sums y out exactly, and the
    loss still adds the labelled cross-entropy.
    """

    def __init__(self, x_dim=50, z_dim=50, hidden=500, layers=1, y_dim=10, gen_weight=1.0, class_weight=100.0):
        self.x_dim, self.hidden, self.layers = x_dim, hidden, layers  # read by networks(), which SSVAE.__init__ calls
        super().__init__(z_dim, y_dim, gen_weight, class_weight)
        self.config = dict(x_dim=x_dim, z_dim=z_dim, hidden=hidden, layers=layers, y_dim=y_dim,
                           gen_weight=gen_weight, class_weight=class_weight)

    def networks(self):
        """(q(z | a, y), p(a | z, y): mean and variance, q(y | a)): MLPs of `layers` hidden layers of width `hidden`"""
        return (Encoder(self.z_dim, self.x_dim, self.y_dim, self.hidden, self.layers),
                Decoder(self.z_dim, 2 * self.x_dim, self.y_dim, self.hidden, self.layers),
                Classifier(self.y_dim, self.x_dim, self.hidden, self.layers))

    def log_likelihood(self, x, out):
        """log N(x; m, diag(v)), m and v the two halves of the decoder's output `out` (see
        utils.gaussian_parameters); x: (batch, x_dim) against out: (..., batch, 2 * x_dim) -> (..., batch)"""
        return utils.log_normal(x, *utils.gaussian_parameters(out))


class M1M2(nn.Module):
    """x -> a ~ q1(a | x), M1's posterior (a VAE trained beforehand, then frozen) -> M2 on a.

    code: "sample": a drawn afresh from q1(a | x) at every step, as in the paper; "mean": its mean.
    Seen from the pixels it has the SSVAE's interface: loss(xu, xl, yl) and classify(x) (on M1's
    posterior mean), and for the pictures enc(x, y), dec(z, y) (pixel logits: M1's decoder at the
    mean of p(a | z, y)) and sample_sigmoid(y).
    m1: where M1 came from (a run name), kept in the config for the record.
    The buffer `active` (m1_z,) marks the dimensions of M1's code that M2 models (see keep_active);
    M2 is built on that many inputs.
    """

    def __init__(self, m1_z=50, z_dim=50, hidden=500, layers=1, y_dim=10, gen_weight=1.0, class_weight=100.0,
                 code="sample", m1=None):
        super().__init__()
        self.config = dict(m1_z=m1_z, z_dim=z_dim, hidden=hidden, layers=layers, y_dim=y_dim,
                           gen_weight=gen_weight, class_weight=class_weight, code=code, m1=m1)
        self.y_dim, self.code = y_dim, code
        self.m1 = VAE(m1_z).requires_grad_(False)
        self.m2 = M2(m1_z, z_dim, hidden, layers, y_dim, gen_weight, class_weight)
        self.register_buffer("active", torch.ones(m1_z, dtype=torch.bool))

    def _model(self, active):
        """Set `active` (m1_z,) and fit M2 to it: rebuilt, freshly initialized, when it would
        model another number of dimensions."""
        kept = int(active.sum())
        if kept != self.m2.x_dim:
            w = next(self.m2.parameters())
            self.m2 = M2(**{**self.m2.config, "x_dim": kept}).to(w.device, w.dtype)
        self.active.copy_(active)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """nn.Module's, after fitting M2 to the state's `active` (a missing one is left to fail there)"""
        if "active" in state_dict:
            self._model(state_dict["active"])
        return super().load_state_dict(state_dict, strict, assign)

    @torch.no_grad()
    def keep_active(self, x, threshold=ACTIVE_STD):
        """Model only the dimensions of M1's code that M1 uses: those whose posterior mean varies
        over the images x (standard deviation above threshold), as the paper's code selects them.
        The others sit at the prior whatever the image, so they carry noise, not information.
        M2 is rebuilt on them (see _model). x: tensor: (N, 784) -> the number of dimensions kept"""
        self._model(self.m1.enc(x)[0].std(0) > threshold)
        return int(self.active.sum())

    @torch.no_grad()
    def features(self, x, draw=False):
        """x: tensor: (batch, 784) -> tensor: (batch, M2's x_dim): M1's code of x on the active
        dimensions, drawn from q1(a | x) or (draw False) its mean"""
        m, v = (t[..., self.active] for t in self.m1.enc(x))
        return utils.sample_gaussian(m, v) if draw else m

    def loss(self, xu, xl, yl):
        """M2's loss on M1's code of the unlabelled xu and the labelled xl (see SSVAE.loss)."""
        draw = self.code == "sample"
        return self.m2.loss(self.features(xu, draw), self.features(xl, draw), yl)

    def classify(self, x):
        """x: tensor: (batch, 784) -> tensor: (batch,): the most probable label of M1's mean code"""
        return self.m2.classify(self.features(x))

    def enc(self, x, y):
        """q(z | a, y) at a = M1's mean code of x. Returns m, v: tensors: (..., z_dim)"""
        return self.m2.enc(self.features(x), y)

    def dec(self, z, y):
        """Pixel logits: M1's decoder at the mean of p(a | z, y) (0 on the dimensions M2 leaves
        out). Returns tensor: (..., 784)"""
        m = utils.gaussian_parameters(self.m2.dec(z, y))[0]
        a = m.new_zeros(*m.shape[:-1], len(self.active))
        a[..., self.active] = m
        return self.m1.dec(a)

    def sample_sigmoid(self, y):
        """y: tensor: (n,): labels -> tensor: (n, 784): Bernoulli means, z ~ p(z)"""
        z = self.m2.sample_z(len(y))
        return torch.sigmoid(self.dec(z, F.one_hot(y, self.y_dim).to(z.dtype)))
