"""The semi-supervised VAE, M2 of Kingma, Rezende, Mohamed & Welling (2014)."""
import math

import torch
import torch.nn.functional as F

from codebase import data, draw, evaluate, utils
from codebase.flags import flag, nonnegative_float
from codebase.model import Model, Published
from codebase.nets import Classifier, Decoder, Encoder


class SSVAE(Model):
    """Generative story: y ~ p(y) = Uniform{0..9}; z ~ p(z) = N(0, I); x | y, z ~ Bernoulli(decoder(z, y)).
    Inference: q(y | x) = Cat(softmax(classifier(x))); q(z | x, y) = N(encoder(x, y)).

    On unlabelled x the label is summed out exactly: with one z sample per label,
        -ELBO(x) = KL(q(y|x) || p(y)) + sum_y q(y|x) [KL(q(z|x,y) || p(z)) - log p(x | z_y, y)].
    Labelled data trains q(y | x) directly, with cross-entropy weighted by class_weight.
    """

    script, iterations, headline = "run_ssvae.py", 30000, "accuracy"
    flags = (flag("--gw", "-gw", type=nonnegative_float, default=1.0, help="weight of the -ELBO on unlabelled data"),
             flag("--cw", "-cw", type=nonnegative_float, default=100.0, help="weight of the labelled cross-entropy"))
    named_by = ("gw", "cw")
    pictures = {"analogies": draw.analogies}
    published = (Published(dict(gen_weight=0.0, class_weight=100.0),
                           ("SSVAE, 100 labels alone", "SSVAE, solo las 100 etiquetas"), {"accuracy": (0.735, 0.025)}),
                 Published(dict(gen_weight=1.0, class_weight=100.0),
                           ("SSVAE, semi-supervised", "SSVAE, semisupervisado"), {"accuracy": (0.935, 0.025)}))
    bench_iters = 70

    def __init__(self, z_dim=64, y_dim=10, gen_weight=1.0, class_weight=100.0):
        super().__init__()
        self.z_dim, self.y_dim = z_dim, y_dim
        self.gen_weight, self.class_weight = gen_weight, class_weight
        self.enc, self.dec, self.cls = self.networks()

    @classmethod
    def configuration(cls, args):
        return dict(gen_weight=args.gw, class_weight=args.cw)

    @staticmethod
    def batches(mnist, args, seed, start=0):
        return data.semisupervised(mnist, seed, start)

    def evaluate(self, mnist, args, seed):
        return evaluate.accuracy(self, mnist, seed=seed)

    def samples(self, seed):
        return draw.class_grid(self, seed=seed)

    def no_pictures(self):
        if not self.gen_weight:
            return ("with -gw 0 only the classifier trains: the decoder keeps its random initial weights, "
                    "so there are no samples or analogies to draw")
        return None

    def networks(self):
        """(q(z | x, y), p(x | z, y), q(y | x)): the course's MLPs on 784 pixels, built in the
        course's order, so a seeded model starts as the course's does."""
        return Encoder(self.z_dim, y_dim=self.y_dim), Decoder(self.z_dim, y_dim=self.y_dim), Classifier(self.y_dim)

    def log_likelihood(self, x, out):
        """log p(x | z, y) from the decoder's output `out` (here Bernoulli logits), summed over x's
        last dimension; x: (batch, 784) broadcast against out: (..., batch, 784) -> (..., batch)"""
        return utils.log_bernoulli_with_logits(x, out)

    def negative_elbo_bound(self, x):
        """x: tensor: (batch, x_dim): unlabelled inputs (binary images)
        Returns nelbo, kl_z, kl_y, rec: scalar tensors, each the mean over the batch
        """
        log_q_y = F.log_softmax(self.cls(x), dim=-1)  # (batch, y_dim)
        q_y = log_q_y.exp()
        kl_y = utils.kl_cat(q_y, log_q_y, -math.log(self.y_dim))
        y = torch.eye(self.y_dim, dtype=x.dtype, device=x.device).unsqueeze(1)  # (y_dim, 1, y_dim): every label
        m, v = self.enc(x, y)  # (y_dim, batch, z_dim)
        z = utils.sample_gaussian(m, v)
        kl_z = utils.kl_normal(m, v, torch.zeros_like(m), torch.ones_like(v))  # (y_dim, batch)
        rec = -self.log_likelihood(x, self.dec(z, y))  # (y_dim, batch)
        kl_z, rec = (q_y * kl_z.t()).sum(-1), (q_y * rec.t()).sum(-1)  # E_q(y|x): (batch,)
        return (kl_y + kl_z + rec).mean(), kl_z.mean(), kl_y.mean(), rec.mean()

    def loss(self, xu, xl, yl):
        """gen_weight * -ELBO(xu) + class_weight * cross-entropy(q(y | xl), yl).

        xu: tensor: (batch, 784): unlabelled images; xl: tensor: (n, 784): labelled images;
        yl: tensor: (n,): their labels. With gen_weight 0 the bound is not computed at all.
        """
        ce = F.cross_entropy(self.cls(xl), yl)
        summaries = {"class/ce": ce}
        loss = self.class_weight * ce
        if self.gen_weight:
            nelbo, kl_z, kl_y, rec = self.negative_elbo_bound(xu)
            loss = loss + self.gen_weight * nelbo
            summaries.update({"gen/elbo": -nelbo, "gen/kl_z": kl_z, "gen/kl_y": kl_y, "gen/rec": rec})
        summaries["train/loss"] = loss
        return loss, summaries

    def classify(self, x):
        """x: tensor: (batch, 784) -> tensor: (batch,): the most probable label under q(y | x)"""
        return self.cls(x).argmax(-1)

    def sample_z(self, n):
        """Returns z: tensor: (n, z_dim) drawn from p(z)."""
        w = next(self.parameters())
        return torch.randn(n, self.z_dim, dtype=w.dtype, device=w.device)

    def sample_sigmoid(self, y):
        """y: tensor: (n,): labels -> tensor: (n, 784): Bernoulli means of p(x | z, y), z ~ p(z)"""
        z = self.sample_z(len(y))
        return torch.sigmoid(self.dec(z, F.one_hot(y, self.y_dim).to(z.dtype)))

    def sample_x(self, y):
        """y: tensor: (n,): labels -> tensor: (n, 784): binary images x ~ p(x | y)"""
        return torch.bernoulli(self.sample_sigmoid(y))
