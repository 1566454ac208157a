"""One model's run script: train (or resume, or load) and evaluate its replicates, print the
metrics, write each run's outputs and record."""
import contextlib
import os
import shutil
import sys
import time

import torch
from torch.utils.tensorboard import SummaryWriter

from codebase import UserError, data, draw, files, flags, replicates, runtime, train


def main(cls, argv=None, description=None):
    """The run script of the model class `cls` (a model.Model): replicates --run .. --run + --runs - 1.

    argv: the flags (default: the command line); description: the script's --help text.
    Returns the exit status.
    """
    args = flags.parse(cls, argv, description)
    runtime.start(args.threads)  # before the first tensor operation
    seeds = range(args.run, args.run + args.runs)
    names = [f"{cls.run_name(args)}_run={seed:04d}" for seed in seeds]
    try:
        with contextlib.ExitStack() as held:
            # Every replicate is locked and its folders checked before anything trains.
            for n in names:
                held.enter_context(replicates.lock(n, replicates.threads(args)))
            resume_from = [_check(args, n) if args.train else None for n in names]
            if args.jobs > 1 and args.runs > 1:
                held.close()  # each replicate's process locks its own run
                results = replicates.parallel(args, names, seeds)
            else:
                mnist = data.load_mnist(args.data_dir, args.device)
                results = [replicate(cls, args, n, seed, r, mnist)
                           for n, seed, r in zip(names, seeds, resume_from, strict=True)]
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        print(f"error: cannot write {e.filename}: {e.strerror}; run from a folder you can write to",
              file=sys.stderr)
        return 1
    if len(results) > 1:
        for line in replicates.summary(results):
            print(line)
    return 0


def folders(name):
    return os.path.join("checkpoints", name), os.path.join("logs", name)


def _existing(name):
    return [d for d in folders(name) if os.path.isdir(d) and os.listdir(d)]


def _check(args, name):
    """Check a run's folders before training; returns the checkpoint to resume from, or None."""
    ckpt_dir, log_dir = folders(name)
    if args.resume:
        found = train.list_checkpoints(ckpt_dir)
        if not found:  # not begun, or stopped before its first checkpoint: nothing to keep
            print(f"notice: --resume: {name} has no checkpoint yet; it starts afresh", file=sys.stderr)
            return None
        if found[-1][0] > args.iter_max:
            raise UserError(f"--resume: the newest checkpoint, {found[-1][1]}, is past --iter_max "
                            f"{args.iter_max}; pass --iter_max {found[-1][0]} or more")
        return found[-1][1]
    if _existing(name) and not args.overwrite:
        raise UserError(f"run {name} already exists ({', '.join(_existing(name))}); pass --resume "
                        "to continue it, --overwrite to replace it, or another --run")
    return None


def replicate(cls, args, name, seed, resume_from, mnist):
    """Train (from scratch, or on from the checkpoint resume_from) or load one replicate, evaluate
    it, print its metrics, write its outputs. Returns its metrics.

    A file that cannot be written (a full disk, a quota, a vanished folder) ends it with a
    UserError naming the file, the cause, the last good checkpoint and the command that goes on;
    every file is written whole or not at all (codebase.files), so nothing half-written is left.
    """
    try:
        return _replicate(cls, args, name, seed, resume_from, mnist)
    except OSError as e:
        found = train.list_checkpoints(folders(name)[0])
        raise UserError(f"cannot write {e.filename or 'a file of ' + folders(name)[1]}: {e.strerror}; last good "
                        f"checkpoint: {found[-1][1] if found else 'none'}; free some space, then run the same "
                        "command with --resume") from None


def _replicate(cls, args, name, seed, resume_from, mnist):
    ckpt_dir, log_dir = folders(name)
    for d in (ckpt_dir, log_dir):  # what a killed writer left half-written (this process holds the run's lock)
        files.remove_leftovers(d)
    torch.manual_seed(seed)
    model = cls.from_flags(args, seed, mnist).to(args.device)
    undrawn = model.no_pictures()
    if args.train:
        state = train.load_checkpoint(resume_from, model) if resume_from else None
        optimizer = train.optimizer(model)  # on the weights as loaded
        if not resume_from:  # _check let an existing run through only with --overwrite
            for d in _existing(name):
                shutil.rmtree(d)
        for d in (ckpt_dir, log_dir):
            os.makedirs(d, exist_ok=True)
        start, seconds = 0, 0.0
        if state:
            train.resume(state, optimizer)
            start, seconds = state["iteration"], state["seconds"]
            print(f"Resuming {name} from iteration {start}")
        seconds = train.train(model, optimizer, model.batches(mnist, args, seed, start), ckpt_dir, log_dir,
                              args.iter_max, args.iter_save, start, seconds,
                              images=None if undrawn else lambda m: {"samples": m.samples(seed)},
                              precision=args.precision, compile=args.compile,
                              learning_rate=cls.learning_rate(args))
    else:
        seconds = train.load_checkpoint(train.checkpoint_path(ckpt_dir, args.iter_max), model)["seconds"]
        os.makedirs(log_dir, exist_ok=True)
    begun = time.perf_counter()
    metrics = model.evaluate(mnist, args, seed)
    eval_seconds = time.perf_counter() - begun
    for line in model.printed(metrics):
        print(line)
    if not undrawn:
        files.write_png(os.path.join(log_dir, "samples.png"), model.samples(seed))
        with SummaryWriter(log_dir) as writer:  # the pictures of what it learned, beside the curves
            for tag, image in draw.write(model, mnist, log_dir, model.pictures).items():
                writer.add_image(f"figures/{tag}", image, args.iter_max)
    record = {
        "name": name, "model": type(model).__name__, "config": model.config, "seed": seed,
        "iterations": args.iter_max, "precision": args.precision, "compile": args.compile, "command": args.command,
        "repeat": flags.repeat(cls, args, seed),
        "metrics": metrics, "train_seconds": seconds, "eval_seconds": eval_seconds, "undrawn": undrawn,
        **runtime.provenance(args.device),
    }
    files.write_json(os.path.join(log_dir, "metrics.json"), record)
    drawn = "" if undrawn else ", the sample grid and pictures"
    print(f"outputs: {log_dir}/ (metrics.json{drawn}, TensorBoard's curves); checkpoint: "
          f"{train.checkpoint_path(ckpt_dir, args.iter_max)}", file=sys.stderr)
    return metrics
