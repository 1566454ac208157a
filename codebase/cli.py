"""Command-line plumbing shared by the run scripts: flags, run names, the train-or-load flow."""
import argparse
import contextlib
import glob
import json
import math
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import torch
from torch.utils.tensorboard import SummaryWriter
from torchvision.utils import save_image

from codebase import UserError, data, evaluate, figures, report, runtime, train


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
    p.set_defaults(script=os.path.abspath(script))
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
    p.add_argument("--threads", type=positive_int,
                   help="torch's CPU threads per run (default: torch's choice; with --jobs, the cores "
                        "shared among the replicates that run at once)")
    p.add_argument("--jobs", type=positive_int, default=1,
                   help="replicates trained at once, each in its own process")
    return p


def parse(p, argv=None):
    args = p.parse_args(argv)
    if args.resume and args.overwrite:
        p.error("--resume and --overwrite exclude each other")
    if (args.resume or args.overwrite) and not args.train:
        p.error("--resume and --overwrite go with --train 1")
    runtime.start(args.threads)  # before the first tensor operation
    argv = sys.argv[1:] if argv is None else argv
    args.argv = list(argv)
    args.command = shlex.join(["python", os.path.basename(p.prog)] + list(argv))
    return args


def main(args, name, make_model, batches, evaluate_fn, samples):
    """Train (or load) and evaluate replicates --run .. --run + --runs - 1; print the metrics.

    name: str: the run name without its replicate suffix, e.g. "model=vae_z=10_beta=1"
    make_model: () -> nn.Module; batches: (mnist, seed, start) -> iterator of loss arguments
    evaluate_fn: (model, mnist, seed) -> dict; samples: (model, seed) -> image tensor (3, H, W)
    Returns the exit status.
    """
    seeds = range(args.run, args.run + args.runs)
    names = [f"{name}_run={seed:04d}" for seed in seeds]
    try:
        with contextlib.ExitStack() as held:
            # Every replicate is locked and its folders checked before anything trains.
            for n in names:
                held.enter_context(lock(n, _threads(args)))
            resume_from = [_check(args, n) if args.train else None for n in names]
            if args.jobs > 1 and args.runs > 1:
                held.close()  # each replicate's process locks its own run
                results = parallel(args, names, seeds)
            else:
                mnist = data.load_mnist(args.data_dir, args.device)
                results = [run_one(args, n, seed, r, make_model, batches, evaluate_fn, samples, mnist)
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


def _threads(args):
    """The torch threads each replicate trains with."""
    if args.jobs > 1 and args.runs > 1:
        return args.threads or max(1, (os.cpu_count() or 1) // min(args.jobs, args.runs))
    return torch.get_num_threads()


@contextlib.contextmanager
def lock(name, threads):
    """One writer per run: checkpoints/<name>.lock holds the writer's PID and thread count.

    A live writer's lock stops this process before it touches anything; a lock whose process is
    gone is taken over, with a notice. Warns when the live writers' threads exceed the cores.
    """
    path = os.path.join("checkpoints", f"{name}.lock")
    os.makedirs("checkpoints", exist_ok=True)
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            pid = _read_lock(path).get("pid")
            if _alive(pid):
                raise UserError(f"run {name} is being written by process {pid} ({path}); wait for it "
                                "to end or stop it, or pass another --run") from None
            print(f"notice: taking over {path}, left by process {pid}, which is no longer running",
                  file=sys.stderr)
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
    with os.fdopen(fd, "w") as f:
        json.dump({"pid": os.getpid(), "threads": threads}, f)
    others = [_read_lock(p) for p in glob.glob(os.path.join("checkpoints", "*.lock")) if p != path]
    others = [o for o in others if o.get("pid") != os.getpid() and _alive(o.get("pid"))]
    if others:
        _warn_if_oversubscribed(len(others) + 1, threads + sum(o.get("threads", 1) for o in others))
    try:
        yield
    finally:
        os.remove(path)


def _warn_if_oversubscribed(processes, threads):
    """One line when training processes together use more threads than the machine has cores."""
    cores = os.cpu_count() or 1
    if threads > cores:
        print(f"warning: {processes} training processes use {threads} threads on {cores} cores, which "
              "runs them slower than one after the other; see --threads and --jobs", file=sys.stderr)


def _read_lock(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _alive(pid):
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parallel(args, names, seeds):
    """Train replicates as separate processes of this script, at most --jobs at once.

    Each runs this command for its one --run, with _threads(args) threads, so its metrics are those
    of the same replicate run alone with that many threads. A failing replicate stops the others
    (SIGTERM: they save a checkpoint) and its error is raised once; Ctrl-C or SIGTERM here is passed
    on to the replicates. Returns their metrics, in seed order.
    """
    threads = _threads(args)
    _warn_if_oversubscribed(min(args.jobs, args.runs), min(args.jobs, args.runs) * threads)
    queue, running, failure, forwarded = list(zip(names, seeds)), {}, None, False
    with train.StopOnSignal() as stop:
        while queue or running:
            while queue and len(running) < args.jobs and not (failure or stop.received):
                name, seed = queue.pop(0)
                out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
                child = subprocess.Popen([sys.executable, args.script, *args.argv, "--run", str(seed), "--runs", "1",
                                          "--jobs", "1", "--threads", str(threads)], stdout=out, stderr=err)
                running[child] = (name, out, err)
                print(f"{name}: started, process {child.pid}, {threads} threads", flush=True)
            if (failure or stop.received) and queue:
                queue.clear()
            for child in [c for c in running if c.poll() is not None]:
                name, out, err = running.pop(child)
                out.seek(0), err.seek(0)
                print(out.read(), end="", flush=True)
                if child.returncode and not (failure or stop.received):
                    lines = err.read().strip().splitlines() or ["(no message)"]
                    failure = (name, lines[-1].removeprefix("error: "), child.returncode)
                    for other in running:
                        other.send_signal(signal.SIGTERM)
            if stop.received and not forwarded:
                forwarded = True
                for child in running:
                    child.send_signal(stop.received)
            time.sleep(0.1)
    if stop.received:
        raise train.Interrupted(f"{signal.Signals(stop.received).name}: the replicates saved checkpoints; "
                                "run the same command with --resume to continue", stop.received)
    if failure:
        e = UserError(f"replicate {failure[0]} failed: {failure[1]}")
        e.exit_code = failure[2] if failure[2] > 0 else 1
        raise e
    return [_read_metrics(n) for n in names]


def _read_metrics(name):
    with open(os.path.join("logs", name, "metrics.json")) as f:
        return json.load(f)["metrics"]


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


def run_one(args, name, seed, resume_from, make_model, batches, evaluate_fn, samples, mnist):
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
                              args.iter_max, args.iter_save, start, seconds,
                              images=lambda m: {"samples": samples(m, seed=seed)})
    else:
        seconds = train.load_checkpoint(train.checkpoint_path(ckpt_dir, args.iter_max), model)["seconds"]
        os.makedirs(log_dir, exist_ok=True)
    begun = time.perf_counter()
    metrics = evaluate_fn(model, mnist, seed=seed)
    eval_seconds = time.perf_counter() - begun
    for line in evaluate.lines(metrics):
        print(line)
    save_image(samples(model, seed=seed), os.path.join(log_dir, "samples.png"))
    with SummaryWriter(log_dir) as writer:  # the pictures of what it learned, beside the curves
        for tag, image in figures.write(model, mnist, log_dir).items():
            writer.add_image(f"figures/{tag}", image, args.iter_max)
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
