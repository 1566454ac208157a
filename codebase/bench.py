"""Speed and memory of training and evaluation on this machine: python -m codebase.bench"""
import argparse
import glob
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time

import torch
import torchvision  # noqa: F401  (imported before the baseline: the run scripts import it too)

from codebase import UserError, against, data, files, flags, models, records, runtime, train

WINDOWS = 7  # the rate is the median of this many windows: a shared machine's speed drifts


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def newest_checkpoint(folder, run_name):
    """(iteration, path) of the newest checkpoint of any replicate of run_name under folder, or None."""
    found = [c for d in sorted(glob.glob(os.path.join(folder, glob.escape(run_name) + "_run=*")))
             for c in train.list_checkpoints(d)]
    return max(found, default=None)


def bench(cls, mnist, device, iters, warmup, checkpoint=None, precision="fp32", compile=False, argv=()):
    """Times `iters` training steps (train.step, its products in `precision`) after `warmup` from a
    fresh model of cls's default configuration, then one evaluation (float32); with compile, the
    same steps of a second fresh model compiled (train.compiled), their windows interleaved with the
    eager ones in this process; with checkpoint = (iteration, path), the eager steps again from that
    trained model and its optimizer state, where late-training slowdowns (subnormal numbers) show.
    argv: run-script flags of the configuration timed instead of the default one.
    Returns [a dict of the figures (see ROW)]: eager, then compiled."""
    defaults = flags.parser(cls).parse_args(argv)
    runs = [_fresh(cls, mnist, device, argv)] + ([_fresh(cls, mnist, device, argv, compiled=True)] if compile else [])
    rates, warmups = _rates(runs, iters, warmup, device, precision)
    model = runs[0][0]
    begun = time.perf_counter()
    model.evaluate(mnist, defaults, seed=0)
    sync(device)
    seconds = time.perf_counter() - begun
    late_rate = late_iteration = None
    if checkpoint:
        model = cls.from_flags(defaults, 0, mnist).to(device)
        optimizer = train.optimizer(model)
        train.load_checkpoint(checkpoint[1], model, optimizer)
        late_iteration = checkpoint[0]
        late_rate = _rates([(model, optimizer, model.batches(mnist, defaults, 0, late_iteration), None)], iters, warmup,
                           device, precision)[0][0]
    rows = []
    for rate, compiled in zip(rates, (False, True), strict=False):
        rows.append({"model": name(cls), "flags": shlex.join(argv), "precision": precision, "compile": compiled,
                     "rate": rate, "speedup": rate / rates[0] if compiled else None,
                     "compile_seconds": warmups[1] - warmups[0] if compiled else None,
                     "late_rate": None if compiled else late_rate,
                     "late_iteration": None if compiled else late_iteration,
                     "iterations": cls.iterations, "train_minutes": cls.iterations / rate / 60, "eval_seconds": seconds,
                     "peak_rss_mb": peak_rss_mb(),
                     "gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else None})
    return rows


def name(cls):
    """The benchmark's name of a model class: its name in lower case (its --models choice)"""
    return cls.__name__.lower()


def _fresh(cls, mnist, device, argv=(), compiled=False):
    """A fresh model of the run-script flags argv (default: cls's default configuration), seed 0,
    its optimizer, minibatch stream and loss (train.compiled's, or None: its own)."""
    torch.manual_seed(0)
    defaults = flags.parser(cls).parse_args(argv)
    model = cls.from_flags(defaults, 0, mnist).to(device)
    return (model, train.optimizer(model), model.batches(mnist, defaults, 0, 0),
            train.compiled(model) if compiled else None)


ROW = ["model", "variant", "it/s", "compiled / eager", "compilation", "late it/s, at iteration", "projected training",
       "evaluation", "the process's peak RSS so far"]


def _row(r):
    """The printed row of bench's figures r."""
    late = f"{r['late_rate']:.1f} at {r['late_iteration']}" if r["late_rate"] else "–"
    gpu = f", GPU {r['gpu_mb']:.0f} MB" if r["gpu_mb"] is not None else ""
    compiled = r.get("compile")
    return [r["model"], " ".join(filter(None, (r.get("flags"), records.variant(r)))), f"{r['rate']:.1f}",
            f"{r['speedup']:.2f}" if compiled else "–", f"{r['compile_seconds']:.0f} s" if compiled else "–", late,
            f"{r['train_minutes']:.1f} min for {r['iterations']}", f"{r['eval_seconds']:.1f} s",
            f"{r['peak_rss_mb']:.0f} MB{gpu}"]


def _rates(runs, iters, warmup, device, precision):
    """Each run's steps per second: the median over WINDOWS windows of iters // WINDOWS steps, after
    `warmup` steps; the runs' windows interleaved, so that a shared machine's drift touches them alike.

    runs: [(model, optimizer, stream, loss_of)] (see train.step). Returns [rate], [seconds of warmup]
    """

    def steps(run, n):
        model, optimizer, stream, loss_of = run
        begun = time.perf_counter()
        for _ in range(n):
            train.step(model, optimizer, next(stream), precision, loss_of)
        sync(device)
        return time.perf_counter() - begun

    warmups = [steps(run, warmup) for run in runs]
    per_window, rates = max(1, iters // WINDOWS), [[] for _ in runs]
    for _ in range(WINDOWS):
        for run, found in zip(runs, rates, strict=True):
            found.append(per_window / steps(run, per_window))
    return [sorted(r)[len(r) // 2] for r in rates], warmups


def profile(cls, mnist, device, steps, warmup, precision, argv=()):
    """Profile `steps` training steps after `warmup` from a fresh model of the run-script flags
    argv (default: cls's default configuration) (torch.profiler). Returns milliseconds per step of
    the operators' own CPU time: {"ops_ms": all of them, "products_ms": the matrix products'
    (aten::mm and aten::addmm)}."""
    model, optimizer, stream, _ = _fresh(cls, mnist, device, argv)
    for _ in range(warmup):
        train.step(model, optimizer, next(stream), precision)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            train.step(model, optimizer, next(stream), precision)
        sync(device)
    ops = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in ops)
    products = sum(e.self_cpu_time_total for e in ops if e.key in ("aten::mm", "aten::addmm"))
    return {"ops_ms": total / steps / 1000, "products_ms": products / steps / 1000}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    names = [name(cls) for cls in models.ALL]
    p.add_argument("--models", nargs="+", choices=names, default=names)
    p.add_argument("--iters", type=flags.positive_int, help="timed iterations (default: each model's bench_iters)")
    p.add_argument("--warmup", type=flags.natural_int, default=10)
    p.add_argument("--device", type=flags.device, default="auto")
    p.add_argument("--threads", type=flags.positive_int, help="torch threads (default: torch's)")
    p.add_argument("--precision", nargs="+", choices=("fp32", "bf16"),
                   help="the training steps' products (default: fp32, and bf16 where the device has it)")
    p.add_argument("--eager", action="store_true", help="time the eager steps alone, not the compiled ones beside them")
    p.add_argument("--profile", action="store_true",
                   help="then profile as many steps again (torch.profiler): the operators' CPU time per step, "
                        "and the matrix products' share")
    p.add_argument("--data-dir", default=data.default_dir())
    p.add_argument("--checkpoints", default="checkpoints",
                   help="where to find each model's newest checkpoint of its default configuration, "
                        "timed as a model late in training (none found: that column says -)")
    p.add_argument("--record", metavar="FILE.json",
                   help="also write the figures, with the machine, versions and commit, to this file "
                        "(the published ones: results/bench-<machine>.json)")
    p.add_argument("--jobs-iters", type=flags.natural_int, default=1000,
                   help="VAE iterations per replicate for the --jobs 2 against --jobs 1 timing (0: skip it)")
    p.add_argument("--flags", default="", metavar="FLAGS",
                   help="the run script's flags of the configuration timed, e.g. --flags='--code once' (default: "
                        "the model's default configuration; one model in --models); --against times that commit's "
                        "default configuration")
    p.add_argument("--against", metavar="COMMIT",
                   help="also time that commit's code with the same flags, on this machine and in this run: its "
                        "benchmark (in a temporary git worktree) and this code's timing alternate, --rounds of "
                        "ours between --rounds + 1 of its; the record holds both")
    p.add_argument("--rounds", type=flags.positive_int, default=3,
                   help="with --against: our timings; each row is the round of median rate")
    args = p.parse_args(argv)
    model_argv = shlex.split(args.flags)
    if model_argv and len(args.models) != 1:
        p.error("--flags: name one model in --models")
    runtime.start(args.threads)  # as the run scripts do
    why = runtime.no_bf16(args.device)
    precisions = args.precision or ["fp32"] + ([] if why else ["bf16"])
    if "bf16" in precisions and why:
        p.error(f"--precision bf16: {why}")
    no_compile = None if args.eager else runtime.no_compile(args.device)
    if no_compile:
        print(f"eager steps alone: {no_compile}")
    baseline = peak_rss_mb()
    command = shlex.join(["python", "-m", "codebase.bench", *(sys.argv[1:] if argv is None else argv)])
    print(f"command: {command}")
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs, {platform.platform()}")
    print(f"peak RSS after importing torch and torchvision: {baseline:.0f} MB")
    try:
        mnist = data.load_mnist(args.data_dir, args.device)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    print(f"peak RSS after loading MNIST: {peak_rss_mb():.0f} MB")
    chosen = [cls for cls in models.ALL if name(cls) in args.models]

    def timed():
        rows = []
        for cls in chosen:
            late = newest_checkpoint(args.checkpoints, cls.run_name(flags.parser(cls).parse_args(model_argv)))
            for precision in precisions:
                try:
                    rows += bench(cls, mnist, args.device, args.iters or cls.bench_iters, args.warmup, late, precision,
                                  compile=not (args.eager or no_compile), argv=model_argv)
                except UserError as e:  # a model built on another run that is not there
                    print(f"{name(cls)}: not timed: {e}")
                    break
        return rows

    # With --against, its runs and ours alternate, theirs first and last, so that the drifts of a shared
    # machine's speed touch both alike; each row is then our round of median rate.
    theirs, rounds = [], []
    for _ in range(args.rounds if args.against else 1):
        if args.against:
            theirs.append(against.record(args.against, args))
        rounds.append(timed())
    if args.against:
        theirs.append(against.record(args.against, args))
    results = [against.median_round(found) for found in zip(*rounds, strict=True)]
    if args.profile:  # after every timing: the profiler's memory would raise the peak RSS above
        for r in [r for r in results if not r["compile"]]:
            cls = next(c for c in chosen if name(c) == r["model"])
            r.update(profile(cls, mnist, args.device, args.iters or cls.bench_iters, args.warmup, r["precision"],
                             model_argv))
    rows = [ROW] + [_row(r) for r in results]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    for r in results:
        if "ops_ms" in r:
            print(f"profile, {r['model']} {r['precision']}: operators {r['ops_ms']:.2f} ms per step, of which "
                  f"matrix products {r['products_ms']:.2f} ms")
    if args.against:
        for line in against.compared(results, theirs, args.against):
            print(line)
    record = {"command": command, **runtime.provenance(args.device), "baseline_rss_mb": baseline, "rows": results,
              "jobs": jobs_ratio(args.jobs_iters, args.data_dir) if args.jobs_iters else None}
    if args.against:
        record["against"] = {"commit": theirs[0]["commit"], "runs": theirs}
    if args.record:
        files.write_json(args.record, record)
        print(f"wrote {args.record}")
    return 0


def jobs_ratio(iters, data_dir, run=subprocess.run):
    """Wall time of two VAE replicates as two processes at once (--jobs 2) against one after the
    other in one process (--jobs 1), each run of run_vae.py timed whole, start-up included.
    run: how a command is run (subprocess.run). Returns {"iterations", "threads" (each with --jobs 2),
    "seconds_jobs_2", "seconds_jobs_1", "ratio"}"""
    script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run_vae.py")
    threads = max(1, (os.cpu_count() or 1) // 2)
    seconds = {}
    for jobs in (2, 1):
        with tempfile.TemporaryDirectory() as d:
            begun = time.perf_counter()
            run([sys.executable, script, "--iter_max", str(iters), "--iw_full", "0", "--runs", "2",
                            "--jobs", str(jobs), "--data-dir", os.path.abspath(data_dir)],
                           cwd=d, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            seconds[jobs] = time.perf_counter() - begun
    print(f"VAE --runs 2, {iters} iterations each: --jobs 2 ({threads} thread{'' if threads == 1 else 's'} "
          f"per process) {seconds[2]:.1f} s, --jobs 1 (torch's {torch.get_num_threads()} threads) {seconds[1]:.1f} s: "
          f"ratio {seconds[2] / seconds[1]:.2f}")
    return {"iterations": iters, "threads": threads, "seconds_jobs_2": seconds[2], "seconds_jobs_1": seconds[1],
            "ratio": seconds[2] / seconds[1]}


if __name__ == "__main__":
    sys.exit(main())
