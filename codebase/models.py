"""What each model is, declared once. The run scripts, the benchmark, the pictures command and
the results page read these declarations; a new model is one more `register(Spec(...))`."""
from dataclasses import dataclass

from codebase import UserError, data, evaluate, figures, flags, train
from codebase.flags import natural_int, nonnegative_float, positive_int
from codebase.gmvae import GMVAE
from codebase.m1m2 import ACTIVE_STD, M1M2
from codebase.ssvae import SSVAE
from codebase.vae import VAE


@dataclass(frozen=True)
class Spec:
    """A model as the tools see it.

    name: its key ("vae"); script: its run script, e.g. "run_vae.py"; description: that script's --help
    classes: the nn.Module classes it builds (checkpoints and records name them by __name__); each
        rebuilt as cls(**model.config)
    iterations: training iterations by default (the course's)
    flags: its own flags: ((names, ...), argparse keyword arguments), ...
    build: args -> nn.Module: the untrained model of these flags
    run_name: args -> str: the run name without its replicate, e.g. "model=vae_z=10_beta=1"
    batches: (mnist, seed, start) -> iterator of model.loss's arguments
    evaluate: (model, mnist, args, seed) -> {metric: float}
    samples: (model, seed) -> tensor: (3, H, W): the sample grid
    pictures: {name: (model, mnist) -> tensor: (3, H, W)}: what it learned, from the test data
    expected: {run name: {metric: (value, tolerance)}}: the course's values for its configurations
    headline: the metric the results page leads with
    bench_minutes: {precision: the target for its training's time on 2 CPU cores}, e.g. {"fp32": 1.5}
        (bf16: on a CPU with AMX); bench_iters: the benchmark's timed iterations by default
    The optional fields (lines and after) are documented where they are declared.
    """

    name: str
    script: str
    description: str
    classes: tuple
    iterations: int
    flags: tuple
    build: object
    run_name: object
    batches: object
    evaluate: object
    samples: object
    pictures: dict
    expected: dict
    headline: str
    bench_minutes: dict
    bench_iters: int
    lines: object = evaluate.lines
    """metrics -> [str]: the lines the run script prints of them"""
    undrawn: object = lambda config: None
    """config -> None, or why a configuration has nothing to draw (an untrained decoder): then it
    gets neither samples nor pictures, and its record says why"""
    check: object = lambda args: None
    """args -> None, or what is wrong with this combination of flags (one line)"""
    base: object = lambda args, seed: None
    """(args, seed) -> None, or the run this model is built on: (declared model, its flags,
    attribute): that run is trained first (or its final checkpoint reused) and loaded into
    model.<attribute> before training"""
    based: object = lambda model, mnist: None
    """(model, mnist) -> None: what the model does once its base is loaded, before it trains"""

    def defaults(self):
        """The flags of its run script run without any."""
        return flags.parser(self).parse_args([])


REGISTRY = {}  # name -> Spec, in the order registered


def register(spec):
    REGISTRY[spec.name] = spec
    return spec


def get(name):
    return REGISTRY[name]


def of_class(cls_name):
    """The Spec whose class is called cls_name (a checkpoint's or a record's "model"), or None."""
    return next((s for s in REGISTRY.values() if cls_name in _names(s)), None)


def _names(spec):
    return {c.__name__: c for c in spec.classes}


def load_newest(ckpt_dir):
    """The model of the newest checkpoint in ckpt_dir, rebuilt on the CPU. Returns spec, model, path"""
    found = train.list_checkpoints(ckpt_dir)
    if not found:
        raise UserError(f"no checkpoint model-NNNNN.pt in {ckpt_dir}; pass the checkpoints/<run name> "
                        "folder of a trained run")
    path = found[-1][1]
    state = train.read_checkpoint(path, "delete it to draw the checkpoint before it",
                                  keys=("model", "config", "state_dict"))
    spec = of_class(state["model"])
    if spec is None:
        raise UserError(f"{path} holds a model {state['model']!r}; this command draws "
                        f"{', '.join(n for s in REGISTRY.values() for n in _names(s))}")
    model = _names(spec)[state["model"]](**state["config"])
    train.load_weights(model, state["state_dict"], path)
    return spec, model, path


Z = (("--z",), dict(type=positive_int, default=10, help="latent dimension"))
IW_FULL = (("--iw_full",), dict(type=natural_int, default=100,
                                help="importance samples of the full-test-set IWAE bound (0: skip the full test set)"))
BOUNDS = ("NELBO", "KL", "Rec", "IWAE-1", "IWAE-10", "IWAE-100", "IWAE-1000")


def _bounds(model, mnist, args, seed):
    return evaluate.bounds(model, mnist, seed=seed, full_iw=args.iw_full)


def _accuracy(model, mnist, args, seed):
    return evaluate.accuracy(model, mnist, seed=seed)


PICTURES = {"reconstructions": figures.reconstructions, "interpolations": figures.interpolations,
            "latent": figures.latent}

register(Spec(
    name="vae", script="run_vae.py", classes=(VAE,), iterations=20000,
    description="Train and evaluate the VAE on binarized MNIST (CS236 seed problem 1).",
    flags=(Z, (("--beta",), dict(type=nonnegative_float, default=1.0, help="weight of the KL in the training loss")),
           IW_FULL),
    build=lambda args: VAE(args.z, args.beta),
    run_name=lambda args: f"model=vae_z={args.z}_beta={args.beta:g}",
    batches=data.unsupervised, evaluate=_bounds, samples=evaluate.sample_grid, pictures=PICTURES,
    expected={"model=vae_z=10_beta=1": dict(zip(BOUNDS, [(100, 2), (19.5, 2), (82, 2), (99, 2.5), (97, 2.5),
                                                         (96, 2.5), (95, 2.5)]))},
    headline="NELBO", bench_minutes={"fp32": 1.5, "bf16": 1.0}, bench_iters=700))

register(Spec(
    name="gmvae", script="run_gmvae.py", classes=(GMVAE,), iterations=20000,
    description="Train and evaluate the GMVAE, a VAE with a mixture-of-Gaussians prior (CS236 seed problem 2).",
    flags=(Z, (("--k",), dict(type=positive_int, default=500, help="mixture components in the prior")), IW_FULL),
    build=lambda args: GMVAE(args.z, args.k),
    run_name=lambda args: f"model=gmvae_z={args.z}_k={args.k}",
    batches=data.unsupervised, evaluate=_bounds, samples=evaluate.sample_grid,
    pictures={**PICTURES, "components": figures.components},
    expected={"model=gmvae_z=10_k=500": dict(zip(BOUNDS, [(97, 3), (17.5, 1), (80, 2), (97, 2.5), (94, 2.5),
                                                          (93, 2.5), (93, 2.5)]))},
    headline="NELBO", bench_minutes={"fp32": 1.8, "bf16": 1.25}, bench_iters=700))


def _cw(args):
    """--cw, or its default: the course's 100 on the pixels, M1M2_CW on M1's code"""
    return args.cw if args.cw is not None else 100.0 if args.features == "pixels" else M1M2_CW


def _ssvae(args):
    if args.features == "pixels":
        return SSVAE(gen_weight=args.gw, class_weight=_cw(args))
    return M1M2(M1_Z, args.z, args.hidden, args.layers, gen_weight=args.gw, class_weight=_cw(args),
                code=args.code, m1=f"model=vae_z={M1_Z}_beta=1")


def _ssvae_name(args):
    if args.features == "pixels":
        return f"model=ssvae_gw={args.gw:g}_cw={_cw(args):g}"
    return (f"model=m1m2_gw={args.gw:g}_cw={_cw(args):g}_z={args.z}_hidden={args.hidden}_layers={args.layers}"
            f"_code={args.code}")


def _keep_active(model, mnist):
    """After M1 is loaded (only M1+M2 has a base): M2 keeps the code dimensions M1 uses."""
    kept = model.keep_active(mnist.train_x.float() / 255)
    if not kept:
        raise UserError(f"M1 ({model.config['m1']}) uses none of its {M1_Z} code dimensions (posterior means "
                        f"vary by less than {ACTIVE_STD} over the training images); train it longer")
    print(f"m1: M2 models the {kept} of its {M1_Z} code dimensions whose posterior mean varies over "
          f"the training images (standard deviation > {ACTIVE_STD})")


M1_Z = 50  # M1: the course's VAE with z = 50, `python run_vae.py --z 50`, as in the paper
M1M2_CW = 1.0  # M1+M2's classification weight by default (see the README's M1+M2 trials)
M1M2_Z = 10  # M2's latent dimension by default on M1's code (see the README's M1+M2 trials)
M1M2_FLAGS = (  # the flags of M1+M2 alone
    (("--code",), dict(choices=("sample", "mean"), default="sample",
                       help="with --features m1: M1's code drawn afresh from q(z1 | x) at every step, or its mean")),
    (("--z",), dict(type=positive_int, default=M1M2_Z, help="with --features m1: M2's latent dimension")),
    (("--hidden",), dict(type=positive_int, default=500, help="with --features m1: the width of M2's networks")),
    (("--layers",), dict(type=positive_int, default=1, help="with --features m1: M2's networks' hidden layers")))


def _m1m2_flags_alone(args):
    """The one-line error when an M1+M2 flag is set off its default on the pixels, else None."""
    if args.features == "pixels" and any(getattr(args, flag[0][2:]) != kw["default"] for flag, kw in M1M2_FLAGS):
        names = [flag[0] for flag, _ in M1M2_FLAGS]
        return f"{', '.join(names[:-1])} and {names[-1]} go with --features m1"


register(Spec(
    name="ssvae", script="run_ssvae.py", classes=(SSVAE, M1M2), iterations=30000,
    description="Train the semi-supervised VAE (M2) with 100 labels and report its test accuracy (CS236 seed\n"
                "problem 3). `-gw 0` trains the classifier on the 100 labelled images alone.",
    flags=((("--gw", "-gw"), dict(type=nonnegative_float, default=1.0, help="weight of the -ELBO on unlabelled data")),
           (("--cw", "-cw"), dict(type=nonnegative_float, help="weight of the labelled cross-entropy (default: 100, the "
                                                              f"course's; {M1M2_CW:g} with --features m1)")),
           (("--features",), dict(choices=("pixels", "m1"), default="pixels",
                                  help=f"M2's inputs: the pixels (the course's model), or m1: M1+M2, M2 on the code "
                                       f"of M1 = the VAE of `run_vae.py --z {M1_Z} --run <this run>`, trained first "
                                       "(or its final checkpoint reused)")),
           *M1M2_FLAGS),
    check=_m1m2_flags_alone,
    build=_ssvae, run_name=_ssvae_name, based=_keep_active,
    base=lambda args, seed: None if args.features == "pixels" else ("vae", ["--z", str(M1_Z), "--run", str(seed)], "m1"),
    batches=data.semisupervised, evaluate=_accuracy, samples=evaluate.class_grid,
    pictures={"analogies": figures.analogies},
    expected={"model=ssvae_gw=0_cw=100": {"accuracy": (0.735, 0.025)},
              "model=ssvae_gw=1_cw=100": {"accuracy": (0.935, 0.025)}},
    headline="accuracy", bench_minutes={"fp32": 15.5, "bf16": 8.0}, bench_iters=70,
    undrawn=lambda c: None if c["gen_weight"] else (
        "with -gw 0 only the classifier trains: the decoder keeps its random initial weights, "
        "so there are no samples or analogies to draw")))
