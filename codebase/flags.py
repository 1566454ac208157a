"""The run scripts' flags: those every model shares, the value types of each model's own, and the
command that repeats a run."""
import argparse
import math
import os
import shlex
import sys

import torch

from codebase import data, runtime

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository: run_*.py


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + error
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def flag(*names, **options):
    """One of a model's own flags: the names and keyword arguments of parser.add_argument"""
    return names, options


def positive_int(s):
    if not s.lstrip("-").isdigit() or int(s) <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return int(s)


def natural_int(s):
    if not s.isdigit():
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {s!r}")
    return int(s)


def nonnegative_float(s):
    try:
        x = float(s)
    except ValueError:
        x = math.nan
    if not x >= 0 or math.isinf(x):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {s!r}")
    return x


def decay(s):
    """A decay per step, e.g. of an exponential moving average's weights: a number in [0, 1)"""
    x = nonnegative_float(s)
    if x >= 1:
        raise argparse.ArgumentTypeError(f"expected a decay in [0, 1), e.g. 0.999, got {s!r}")
    return x


def device(s):
    """'auto' (CUDA if present, else CPU) or a torch device that exists here."""
    if s == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        d = torch.device(s)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"unknown device {s!r}; use auto, cpu, cuda or cuda:N") from None
    available = {"cpu": lambda: True,
                 "cuda": lambda: (d.index or 0) < torch.cuda.device_count(),
                 "mps": lambda: torch.backends.mps.is_available()}
    if not available.get(d.type, lambda: False)():
        raise argparse.ArgumentTypeError(f"device {s!r} is not available here; use --device cpu")
    return d


def parser(cls, description=None):
    """The run script's flags for the model class `cls` (a model.Model): the shared ones, then its own.
    description: the script's --help text"""
    if not cls.script:
        raise TypeError(f"{cls.__name__} declares no run script: set its class attribute script, e.g. "
                        f'script = "run_{cls.__name__.lower()}.py"')
    p = _Parser(prog=cls.script, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.set_defaults(script=os.path.join(ROOT, cls.script))
    p.add_argument("--iter_max", type=positive_int, default=cls.iterations, help="training iterations")
    p.add_argument("--iter_save", type=positive_int, default=10000, help="save a checkpoint every N iterations")
    p.add_argument("--run", type=natural_int, default=0, help="replicate id, also the seed")
    p.add_argument("--runs", type=positive_int, default=1, help="replicates: --run, --run+1, ...")
    p.add_argument("--train", type=int, choices=(0, 1), default=1,
                   help="1: train then evaluate; 0: evaluate the checkpoint at --iter_max")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run of the same name")
    p.add_argument("--data-dir", default=data.default_dir(), help="MNIST root (or set MNIST_DATA_DIR)")
    p.add_argument("--device", type=device, default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--threads", type=positive_int,
                   help="torch's CPU threads per run (default: torch's choice; with --jobs, the cores "
                        "shared among the replicates that run at once)")
    p.add_argument("--jobs", type=positive_int, default=1,
                   help="replicates trained at once, each in its own process")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="training's matrix products: fp32, the course's; bf16: in bfloat16, with float32 "
                        "parameters, optimizer and sums, on CUDA GPUs and CPUs with AMX or AVX512-BF16 "
                        "(evaluation stays float32)")
    p.add_argument("--compile", action="store_true",
                   help="compile the training step (torch.compile of the loss and its backward): faster steps "
                        "after a compilation, counted in the training time; the run's name ends _compile=1")
    for names, options in cls.flags:
        p.add_argument(*names, **options)
    return p


def parse(cls, argv=None, description=None):
    """The flags of argv (default: the command line), checked. Adds args.argv and args.command,
    the command as typed."""
    p = parser(cls, description)
    args = p.parse_args(argv)
    if args.resume and args.overwrite:
        p.error("--resume and --overwrite exclude each other")
    if (args.resume or args.overwrite) and not args.train:
        p.error("--resume and --overwrite go with --train 1")
    if args.precision == "bf16" and (why := runtime.no_bf16(args.device)):
        p.error(f"--precision bf16: {why}; use --precision fp32")
    if args.compile and (why := runtime.no_compile(args.device)):
        p.error(f"--compile: {why}; run without --compile")
    argv = sys.argv[1:] if argv is None else argv
    args.argv = list(argv)
    args.command = shlex.join(["python", cls.script] + list(argv))
    return args


def repeat(cls, args, seed):
    """The command that repeats replicate `seed` of this run bit for bit on the same CPU model:
    every flag that sets what is computed and differs from its default, then --run and --threads
    pinned (the thread count decides the products' rounding)."""
    p = parser(cls)
    defaults, words = p.parse_args([]), ["python", cls.script]
    for action in p._actions:
        value = getattr(args, action.dest, None)
        if action.dest not in REPLICATE_FLAGS and value != getattr(defaults, action.dest):
            words += [action.option_strings[0]] + ([] if action.nargs == 0 else [str(value)])  # nargs 0: a switch
    return shlex.join(words + ["--run", str(seed), "--threads", str(torch.get_num_threads())])


# Flags that say which replicates run, where, and how they treat earlier runs, not what they compute.
REPLICATE_FLAGS = {"help", "run", "runs", "jobs", "threads", "train", "resume", "overwrite", "data_dir", "iter_save"}

