"""Replicates of one run: one writer per run (lock files) and several at once (a process pool)."""
import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import torch

from codebase import UserError, records, runtime


def threads(args):
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
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "threads": threads}, f)
    except OSError as e:  # a full disk: no lock is left behind
        os.remove(path)
        raise OSError(e.errno, e.strerror, path) from None
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

    Each runs this command for its one --run, with threads(args) threads, so its metrics are those
    of the same replicate run alone with that many threads. A failing replicate stops the others
    (SIGTERM: they save a checkpoint) and its error is raised once; Ctrl-C or SIGTERM here is passed
    on to the replicates. Returns their metrics, in seed order.
    """
    threads_each = threads(args)
    _warn_if_oversubscribed(min(args.jobs, args.runs), min(args.jobs, args.runs) * threads_each)
    queue, running, failure, forwarded = list(zip(names, seeds, strict=True)), {}, None, False
    with runtime.StopOnSignal() as stop:
        while queue or running:
            while queue and len(running) < args.jobs and not (failure or stop.received):
                name, seed = queue.pop(0)
                out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
                child = subprocess.Popen([sys.executable, args.script, *args.argv, "--run", str(seed), "--runs", "1",
                                          "--jobs", "1", "--threads", str(threads_each)], stdout=out, stderr=err)
                running[child] = (name, out, err)
                print(f"{name}: started, process {child.pid}, {threads_each} threads", flush=True)
            if (failure or stop.received) and queue:
                queue.clear()
            for child in [c for c in running if c.poll() is not None]:
                name, out, err = running.pop(child)
                out.seek(0), err.seek(0)
                print(out.read(), end="", flush=True)
                if child.returncode and not (failure or stop.received):
                    if child.returncode < 0:  # ended by a signal, as a shell reports it: 128 + its number
                        failure = (name, f"killed by {signal.Signals(-child.returncode).name}", 128 - child.returncode)
                    else:
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
        raise runtime.Interrupted(f"{signal.Signals(stop.received).name}: the replicates saved checkpoints; "
                                "run the same command with --resume to continue", stop.received)
    if failure:
        e = UserError(f"replicate {failure[0]} failed: {failure[1]}")
        e.exit_code = failure[2]
        raise e
    return [_read_metrics(n) for n in names]


def _read_metrics(name):
    with open(os.path.join("logs", name, "metrics.json")) as f:
        return json.load(f)["metrics"]


def summary(results):
    """results: list of metric dicts -> lines 'name: mean ± standard error (n=N)'"""
    return [f"{key}: {' ± '.join(f'{x:.4f}' for x in records.mean_se([r[key] for r in results]))} "
            f"(n={len(results)})" for key in results[0]]
