"""M1+M2 (Kingma, Rezende, Mohamed & Welling 2014, section 3.2): the semi-supervised M2 trained
on the code of M1, a VAE trained beforehand on all the images.

    python run_m1m2.py     # trains M1 first (python run_vae.py --z 50 --validation --iter_max 60000
                           # --run <this run>), unless its final checkpoint is there, then M2 on its code

Both hold the validation split out of training (data.validation_split): settings are chosen on
the validation accuracy, which the run prints and records beside the test accuracy.
"""
import copy
import math
import os
import shlex

import torch
import torch.nn.functional as F

from codebase import UserError, data, evaluate, flags, run, train, utils
from codebase.flags import decay, flag, nonnegative_float, positive_int
from codebase.model import Model, Published
from codebase.nets import ACTIVATIONS, Classifier, Decoder, Encoder
from codebase.ssvae import SSVAE
from codebase.vae import VAE

ACTIVE_STD = 0.1  # M1's code dimensions whose posterior mean varies less over the images are left out
M1_ITERATIONS = 60000  # M1's training by default: three times the course's VAE (docs/m1m2.md, trial D)


class M2(SSVAE):
    """The SSVAE on continuous inputs a (M1's code): p(a | y, z) = N(m(z, y), diag(v(z, y))).

    Only the likelihood and the inputs' size differ: the bound still sums y out exactly, and the
    loss still adds the labelled cross-entropy.
    """

    def __init__(self, a_dim=50, z_dim=50, hidden=500, layers=1, y_dim=10, gen_weight=1.0, class_weight=100.0,
                 activation="elu"):
        # read by networks(), which SSVAE.__init__ calls
        self.a_dim, self.hidden, self.layers, self.activation = a_dim, hidden, layers, activation
        super().__init__(z_dim, y_dim, gen_weight, class_weight)

    def networks(self):
        """(q(z | a, y), p(a | z, y): mean and variance, q(y | a)): MLPs of `layers` hidden layers of width
        `hidden`, `activation`'s in the encoder and decoder, ReLU in the classifier (as the SSVAE's)"""
        act = ACTIVATIONS[self.activation]
        return (Encoder(self.z_dim, self.a_dim, self.y_dim, self.hidden, self.layers, act),
                Decoder(self.z_dim, 2 * self.a_dim, self.y_dim, self.hidden, self.layers, act),
                Classifier(self.y_dim, self.a_dim, self.hidden, self.layers))

    def log_likelihood(self, a, out):
        """log N(a; m, diag(v)), m and v the two halves of the decoder's output `out` (see
        utils.gaussian_parameters); a: (batch, a_dim) against out: (..., batch, 2 * a_dim) -> (..., batch)"""
        return utils.log_normal(a, *utils.gaussian_parameters(out))


class M1M2(Model):
    """x -> a ~ q1(a | x), M1's posterior (a VAE trained beforehand, then frozen) -> M2 on a.

    M1 is a fixed feature extractor: the training stream (batches) carries M1's codes of the
    images, and a step trains M2 alone on them. code, how they are made at each step: "sample": a
    drawn from q1(a | x) of the freshly binarized images; "mean": its mean; "once": a drawn from
    q1(a | x) computed once per image on its grey levels, as the paper's code does.
    Seen from the pixels it has the SSVAE's interface for the evaluation and the pictures:
    classify(x) (on M1's posterior mean), enc(x, y), dec(z, y) (pixel logits: M1's decoder at the
    mean of p(a | z, y)) and sample_sigmoid(y).
    m1_run: where M1 came from (a run name), kept in the config for the record.
    average: with a decay > 0, the evaluation reads M2's weights averaged over training (m2_average,
    see loss) instead of its last ones.
    The buffer `active` (m1_z,) marks the dimensions of M1's code that M2 models (see keep_active);
    M2 is built on that many inputs.
    """

    script, iterations, headline = "run_m1m2.py", 90000, "accuracy"  # docs/m1m2.md: within 45 min a seed
    flags = (flag("--gw", "-gw", type=nonnegative_float, default=1.0, help="weight of M2's -ELBO on unlabelled data"),
             flag("--cw", "-cw", type=nonnegative_float, default=1.0, help="weight of the labelled cross-entropy"),
             flag("--z", type=positive_int, default=10, help="M2's latent dimension"),
             flag("--hidden", type=positive_int, default=500, help="the width of M2's networks"),
             flag("--layers", type=positive_int, default=1, help="M2's networks' hidden layers"),
             flag("--activation", choices=tuple(ACTIVATIONS), default="relu",
                  help="the activation of M2's encoder and decoder (its classifier's: ReLU)"),
             flag("--code", choices=("sample", "mean", "once"), default="once",
                  help="M1's code at every step: drawn from q(z1 | x) of the freshly binarized images (sample), "
                       "its mean (mean), or drawn from q(z1 | x) computed once per image on its grey levels (once)"),
             flag("--average", type=decay, default=0.0,
                  help="evaluate M2's weights averaged over its training steps, an exponential moving average "
                       "of this decay per step (e.g. 0.999); 0: its last weights"),
             flag("--lr_end", type=nonnegative_float, default=train.LR,
                  help="M2's learning rate at its last iteration: it falls from the course's 1e-3 along a half "
                       "cosine (1e-3: constant)"),
             flag("--m1_z", type=positive_int, default=50, help="M1's latent dimension (run_vae.py's --z)"),
             flag("--m1_hidden", type=positive_int, default=300, help="M1's width (run_vae.py's --hidden)"),
             flag("--m1_layers", type=positive_int, default=2, help="M1's hidden layers (run_vae.py's --layers)"),
             flag("--m1_activation", choices=tuple(ACTIVATIONS), default="elu",
                  help="M1's activation (run_vae.py's --activation)"),
             flag("--m1_iter_max", type=positive_int, default=M1_ITERATIONS,
                  help="M1's training iterations (run_vae.py's --iter_max)"))
    named_by = ("gw", "cw", "z", "hidden", "layers", "code", "activation")
    named_if_changed = ("average", "lr_end", "m1_z", "m1_hidden", "m1_layers", "m1_activation", "m1_iter_max")
    pictures = SSVAE.pictures
    published = (Published(dict(gen_weight=1.0, class_weight=1.0, z_dim=10, hidden=500, layers=1, code="once",
                                activation="relu", m1_hidden=300, m1_layers=2, m1_activation="elu"),
                           ("M1+M2, beyond the course (the paper: 0.967)",
                            "M1+M2, más allá del curso (el artículo: 0.967)")),)
    samples, no_pictures = SSVAE.samples, SSVAE.no_pictures  # the SSVAE's pictures, seen from the pixels

    def __init__(self, m1_z=50, z_dim=50, hidden=500, layers=1, y_dim=10, gen_weight=1.0, class_weight=100.0,
                 code="sample", activation="elu", average=0.0, m1_hidden=300, m1_layers=2, m1_activation="elu",
                 m1_run=None):
        # code "sample" and activation "elu": what a checkpoint or record made before either was a
        # choice holds (run_m1m2.py's defaults are its flags')
        super().__init__()
        self.m1_z, self.z_dim, self.hidden, self.layers, self.y_dim = m1_z, z_dim, hidden, layers, y_dim
        self.gen_weight, self.class_weight, self.code, self.m1_run = gen_weight, class_weight, code, m1_run
        self.activation, self.average = activation, average
        self.m1_hidden, self.m1_layers, self.m1_activation = m1_hidden, m1_layers, m1_activation
        self.m1 = VAE(m1_z, hidden=m1_hidden, layers=m1_layers, activation=m1_activation).requires_grad_(False)
        self.m2 = M2(m1_z, z_dim, hidden, layers, y_dim, gen_weight, class_weight, activation)
        self.m2_average = self._averaged(self.m2)
        self.register_buffer("active", torch.ones(m1_z, dtype=torch.bool))

    @classmethod
    def configuration(cls, args):
        return dict(m1_z=args.m1_z, z_dim=args.z, hidden=args.hidden, layers=args.layers, gen_weight=args.gw,
                    class_weight=args.cw, code=args.code, activation=args.activation, average=args.average,
                    m1_hidden=args.m1_hidden, m1_layers=args.m1_layers, m1_activation=args.m1_activation,
                    m1_run=_m1_run(args, 0)[0])

    @classmethod
    def from_flags(cls, args, seed, mnist):
        """M1+M2 with M1 loaded from its run's final checkpoint (see train_m1) and M2 built on the
        code dimensions M1 uses (see keep_active)."""
        model = cls(**cls.configuration(args))
        path = train.checkpoint_path(_m1_run(args, seed)[1], args.m1_iter_max)
        train.load_checkpoint(path, model.m1)
        print(f"m1: {path}")
        kept = model.keep_active(mnist.train_x[data.validation_split(mnist.train_y)[0]].float() / 255)
        if not kept:
            raise UserError(f"M1 ({path}) uses none of its {args.m1_z} code dimensions (posterior means vary "
                            f"by less than {ACTIVE_STD} over the training images); train it longer")
        print(f"m1: M2 models the {kept} of its {args.m1_z} code dimensions whose posterior mean varies over "
              f"the training images (standard deviation > {ACTIVE_STD})")
        return model

    def batches(self, mnist, args, seed, start=0):
        """M2's inputs at each step, from iteration start + 1 on: (au, al, yl), M1's codes (see
        `code`) au: (100, a_dim) of the unlabelled images, drawn from the training images less the
        validation split, and al: (100, a_dim) of the course's labelled ones, yl: (100,) their labels"""
        rows = data.validation_split(mnist.train_y)[0]
        if self.code == "once":
            return self._drawn_once(mnist, seed, start, rows)
        draw = self.code == "sample"
        return ((self.m1_code(xu, draw), self.m1_code(xl, draw), yl)
                for xu, xl, yl in data.semisupervised(mnist, seed, start, rows=rows))

    def _drawn_once(self, mnist, seed, start, rows):
        """batches for code "once": q1(a | x) computed once per training image on its grey levels,
        a drawn afresh from it at every step; the unlabelled images are those of `rows`"""
        m, v = (torch.cat(t) for t in zip(*(self.m1_posterior(x.float() / 255) for x in mnist.train_x.split(10000)),
                                          strict=True))
        labelled = data.course_subset(mnist.train_y.cpu(), data.TRAIN_IDX).to(rows.device)
        for batch in data.shuffled_batches(len(rows), seed, start, device=rows.device):
            u = rows[batch]
            yield (utils.sample_gaussian(m[u], v[u]), utils.sample_gaussian(m[labelled], v[labelled]),
                   mnist.train_y[labelled])

    @staticmethod
    def learning_rate(args):
        """With --lr_end below 1e-3: lr_end + (1e-3 - lr_end) (1 + cos(pi i / iter_max)) / 2 at
        iteration i, from 1e-3 to lr_end along a half cosine"""
        if args.lr_end == train.LR:
            return None
        return lambda i: args.lr_end + (train.LR - args.lr_end) * (1 + math.cos(math.pi * i / args.iter_max)) / 2

    def evaluate(self, mnist, args, seed):
        """The test accuracies and the validation split's"""
        return evaluate.accuracy(self, mnist, seed, valid=data.validation_split(mnist.train_y)[1])

    def _fit_m2(self, active):
        """Set `active` (m1_z,) and fit M2 to it: rebuilt, freshly initialized, when it would
        model another number of dimensions."""
        kept = int(active.sum())
        if kept != self.m2.a_dim:
            w = next(self.m2.parameters())
            self.m2 = M2(**{**self.m2.config, "a_dim": kept}).to(w.device, w.dtype)
            self.m2_average = self._averaged(self.m2)
        self.active.copy_(active)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """nn.Module's, after fitting M2 to the state's `active` (a missing one is left to fail there)"""
        if "active" in state_dict:
            self._fit_m2(state_dict["active"])
        return super().load_state_dict(state_dict, strict, assign)

    @torch.no_grad()
    def keep_active(self, x, threshold=ACTIVE_STD):
        """Model only the dimensions of M1's code that M1 uses: those whose posterior mean varies
        over the images x (standard deviation above threshold), as the paper's code selects them.
        The others sit at the prior whatever the image, so they carry noise, not information.
        M2 is rebuilt on them (see _fit_m2). x: tensor: (N, 784) -> the number of dimensions kept"""
        self._fit_m2(self.m1.enc(x)[0].std(0) > threshold)
        return int(self.active.sum())

    @torch.no_grad()
    def m1_posterior(self, x):
        """x: tensor: (batch, 784) -> m, v: tensors: (batch, M2's a_dim): q1(a | x) on the active
        dimensions"""
        return tuple(t[..., self.active] for t in self.m1.enc(x))

    def m1_code(self, x, draw=False):
        """x: tensor: (batch, 784) -> tensor: (batch, M2's a_dim): M1's code of x, drawn from
        q1(a | x) or (draw False) its mean"""
        m, v = self.m1_posterior(x)
        return utils.sample_gaussian(m, v) if draw else m

    def _averaged(self, m2):
        """With average > 0: a frozen copy of m2, the weights the evaluation reads (see loss); else None"""
        return copy.deepcopy(m2).requires_grad_(False) if self.average else None

    @property
    def evaluated(self):
        """The M2 that classifies and draws: its average over training (m2_average) if kept, else M2"""
        return self.m2_average if self.average else self.m2

    def loss(self, au, al, yl):
        """M2's loss (see SSVAE.loss) on M1's codes au of unlabelled images and al of the labelled
        ones yl (see batches). With average > 0, first m2_average <- average * m2_average +
        (1 - average) * M2's weights (Polyak averaging, exponential): it averages the weights each
        step starts from and does not touch the training, which goes on as without it."""
        if self.average:
            with torch.no_grad():
                torch._foreach_lerp_(list(self.m2_average.parameters()), list(self.m2.parameters()), 1 - self.average)
        return self.m2.loss(au, al, yl)

    def classify(self, x):
        """x: tensor: (batch, 784) -> tensor: (batch,): the most probable label of M1's mean code"""
        return self.evaluated.classify(self.m1_code(x))

    def enc(self, x, y):
        """q(z | a, y) at a = M1's mean code of x. Returns m, v: tensors: (..., z_dim)"""
        return self.evaluated.enc(self.m1_code(x), y)

    def dec(self, z, y):
        """Pixel logits: M1's decoder at the mean of p(a | z, y) (0 on the dimensions M2 leaves
        out). Returns tensor: (..., 784)"""
        m = utils.gaussian_parameters(self.evaluated.dec(z, y))[0]
        a = m.new_zeros(*m.shape[:-1], len(self.active))
        a[..., self.active] = m
        return self.m1.dec(a)

    def sample_sigmoid(self, y):
        """y: tensor: (n,): labels -> tensor: (n, 784): Bernoulli means, z ~ p(z)"""
        z = self.evaluated.sample_z(len(y))
        return torch.sigmoid(self.dec(z, F.one_hot(y, self.y_dim).to(z.dtype)))


def _m1_argv(args, seed):
    """run_vae.py's flags of M1 for replicate `seed` of the M1+M2 run `args`"""
    argv = ["--z", str(args.m1_z), "--hidden", str(args.m1_hidden), "--layers", str(args.m1_layers),
            "--activation", args.m1_activation, "--validation", "--run", str(seed)]
    if args.m1_iter_max != VAE.iterations:
        argv += ["--iter_max", str(args.m1_iter_max)]
    if args.data_dir != data.default_dir():
        argv += ["--data-dir", args.data_dir]
    if args.device != flags.device("auto"):
        argv += ["--device", str(args.device)]
    return argv


def _m1_run(args, seed):
    """M1's run name without its replicate, and its checkpoint folder, for replicate `seed` of the
    M1+M2 run `args`"""
    name = VAE.run_name(flags.parser(VAE).parse_args(_m1_argv(args, seed)))
    return name, run.folders(f"{name}_run={seed:04d}")[0]


def train_m1(args):
    """Train each replicate's M1 that has no final checkpoint yet, as its own run of run_vae.py
    (continued from its newest checkpoint, if any; afresh if it was stopped before its first).
    Returns 0, or the first failing exit status."""
    for seed in range(args.run, args.run + args.runs):
        name, ckpt_dir = _m1_run(args, seed)
        if os.path.exists(train.checkpoint_path(ckpt_dir, args.m1_iter_max)):
            continue
        begun = any(os.path.isdir(d) for d in run.folders(f"{name}_run={seed:04d}"))
        argv = _m1_argv(args, seed) + (["--resume"] if begun else [])
        print(f"Training M1 first: {shlex.join(['python', VAE.script, *argv])}")
        status = run.main(VAE, argv)
        if status:
            return status
    return 0


def main(argv=None, description=None):
    """run_m1m2.py: each replicate's M1 (trained first, unless its final checkpoint exists), then M2."""
    args = flags.parse(M1M2, argv, description)
    status = train_m1(args) if args.train else 0
    return status or run.main(M1M2, argv, description)
