"""Command-line plumbing shared by the run scripts: flags, run names, the train-or-load flow."""
import argparse
import json
import math
import os
import platform
import shlex
import shutil
import sys
import time

import torch

from codebase import UserError, data, evaluate, report, train


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + error
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


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


def parser(script, description, iter_max):
    """The flags every run script shares; a script adds its model's own. script: its __file__"""
    p = _Parser(prog=os.path.basename(script), description=description,
                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--iter_max", type=positive_int, default=iter_max, help="training iterations")
    p.add_argument("--iter_save", type=positive_int, default=10000, help="save a checkpoint every N iterations")
    p.add_argument("--run", type=natural_int, default=0, help="replicate id, also the seed")
    p.add_argument("--runs", type=positive_int, default=1, help="replicates: --run, --run+1, ...")
    p.add_argument("--train", type=int, choices=(0, 1), default=1,
                   help="1: train then evaluate; 0: evaluate the checkpoint at --iter_max")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run of the same name")
    p.add_argument("--data-dir", default=data.default_dir(), help="MNIST root (or set MNIST_DATA_DIR)")
    p.add_argument("--device", type=device, default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--threads", type=positive_int, help="torch's CPU threads (default: torch's choice)")
    return p


def parse(p, argv=None):
    args = p.parse_args(argv)
    if args.resume and args.overwrite:
        p.error("--resume and --overwrite exclude each other")
    if (args.resume or args.overwrite) and not args.train:
        p.error("--resume and --overwrite go with --train 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    argv = sys.argv[1:] if argv is None else argv
    args.command = shlex.join(["python", os.path.basename(p.prog)] + list(argv))
    return args


def main(args, name, make_model, batches, evaluate_fn, save_samples):
    """Train (or load) and evaluate replicates --run .. --run + --runs - 1; print the metrics.

    name: str: the run name without its replicate suffix, e.g. "model=vae_z=10_beta=1"
    make_model: () -> nn.Module; batches: (mnist, seed, start) -> iterator of loss arguments
    evaluate_fn: (model, mnist, seed) -> dict; save_samples: (model, path, seed) -> None
    Returns the exit status.
    """
    seeds = range(args.run, args.run + args.runs)
    names = [f"{name}_run={seed:04d}" for seed in seeds]
    try:
        # Every replicate's folders are checked before anything trains.
        resume_from = [_check(args, n) if args.train else None for n in names]
        mnist = data.load_mnist(args.data_dir, args.device)
        results = [run_one(args, n, seed, r, make_model, batches, evaluate_fn, save_samples, mnist)
                   for n, seed, r in zip(names, seeds, resume_from)]
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        print(f"error: cannot write {e.filename}: {e.strerror}; run from a folder you can write to",
              file=sys.stderr)
        return 1
    if len(results) > 1:
        for line in summary(results):
            print(line)
    return 0


def summary(results):
    """results: list of metric dicts -> lines 'name: mean ± standard error (n=N)'"""
    return [f"{key}: {' ± '.join(f'{x:.4f}' for x in report.mean_se([r[key] for r in results]))} "
            f"(n={len(results)})" for key in results[0]]


def _folders(name):
    return os.path.join("checkpoints", name), os.path.join("logs", name)


def _check(args, name):
    """Check a run's folders before training; returns the checkpoint to resume from, or None."""
    ckpt_dir, log_dir = _folders(name)
    if args.resume:
        found = train.list_checkpoints(ckpt_dir)
        if not found:
            raise UserError(f"--resume: no checkpoint in {ckpt_dir}/; drop --resume to start afresh")
        if found[-1][0] > args.iter_max:
            raise UserError(f"--resume: the newest checkpoint, {found[-1][1]}, is past --iter_max "
                            f"{args.iter_max}; pass --iter_max {found[-1][0]} or more")
        return found[-1][1]
    if _existing(name) and not args.overwrite:
        raise UserError(f"run {name} already exists ({', '.join(_existing(name))}); pass --resume "
                        "to continue it, --overwrite to replace it, or another --run")
    return None


def _existing(name):
    return [d for d in _folders(name) if os.path.isdir(d) and os.listdir(d)]


def run_one(args, name, seed, resume_from, make_model, batches, evaluate_fn, save_samples, mnist):
    """Train (from scratch or resume_from) or load one replicate, evaluate it, write its outputs."""
    ckpt_dir, log_dir = _folders(name)
    torch.manual_seed(seed)
    model = make_model().to(args.device)
    if args.train:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
        if not resume_from:  # _check let an existing run through only with --overwrite
            for d in _existing(name):
                shutil.rmtree(d)
        for d in (ckpt_dir, log_dir):
            os.makedirs(d, exist_ok=True)
        start, seconds = 0, 0.0
        if resume_from:
            state = train.load_checkpoint(resume_from, model, optimizer)
            start, seconds = state["iteration"], state["seconds"]
            print(f"Resuming {name} from iteration {start}")
        seconds = train.train(model, optimizer, batches(mnist, seed, start), ckpt_dir, log_dir,
                              args.iter_max, args.iter_save, start, seconds)
    else:
        seconds = train.load_checkpoint(train.checkpoint_path(ckpt_dir, args.iter_max), model)["seconds"]
        os.makedirs(log_dir, exist_ok=True)
    begun = time.perf_counter()
    metrics = evaluate_fn(model, mnist, seed=seed)
    eval_seconds = time.perf_counter() - begun
    for line in evaluate.lines(metrics):
        print(line)
    save_samples(model, os.path.join(log_dir, "samples.png"), seed=seed)
    record = {
        "name": name, "model": type(model).__name__, "config": model.config, "seed": seed,
        "iterations": args.iter_max, "command": args.command, "metrics": metrics,
        "train_seconds": seconds, "eval_seconds": eval_seconds, "device": str(args.device),
        "threads": torch.get_num_threads(), "torch": torch.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
    }
    path = os.path.join(log_dir, "metrics.json")
    with open(path + ".tmp", "w") as f:
        json.dump(record, f, indent=2)
    os.replace(path + ".tmp", path)
    return metrics
