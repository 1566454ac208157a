"""Another commit's benchmark, timed beside this code's (python -m codebase.bench --against COMMIT):
its runs in a temporary git worktree of it, and the comparison of the two commits' rates."""
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile

from codebase import records


def record(commit, args, run=subprocess.run):
    """The record of `commit`'s benchmark with the timing flags of args (no --profile, --record or
    --against; its --jobs-iters 0), run in a temporary git worktree of that commit whose checkpoints
    folder is this one's (the models built on another run find it). run: how a command is run
    (subprocess.run). Returns its record (a dict, see bench.main)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    argv = ["--models", *args.models, "--warmup", str(args.warmup), "--device", str(args.device), "--jobs-iters", "0"]
    for flag, value in (("--iters", args.iters), ("--threads", args.threads)):
        if value:
            argv += [flag, str(value)]
    argv += (["--precision", *args.precision] if args.precision else []) + (["--eager"] if args.eager else [])
    # Where the data and checkpoints are, and the temporary record, stay out of the command the record keeps.
    command = shlex.join(["python", "-m", "codebase.bench", *argv])
    argv += ["--data-dir", os.path.abspath(args.data_dir), "--checkpoints", os.path.abspath(args.checkpoints)]
    with tempfile.TemporaryDirectory() as d:
        tree, out = os.path.join(d, "tree"), os.path.join(d, "record.json")
        run(["git", "-C", root, "worktree", "add", "--detach", "--quiet", tree, commit], check=True)
        try:
            shutil.rmtree(os.path.join(tree, "checkpoints"), ignore_errors=True)  # the repository's empty folder
            os.symlink(os.path.abspath("checkpoints"), os.path.join(tree, "checkpoints"))
            print(f"timing {commit}: {command}", flush=True)
            run([sys.executable, "-m", "codebase.bench", *argv, "--record", out], cwd=tree, check=True,
                stdout=subprocess.DEVNULL)
            with open(out) as f:
                return {**json.load(f), "command": command}
        finally:
            run(["git", "-C", root, "worktree", "remove", "--force", tree], check=True)


def median_round(found):
    """One row's figures in each round -> those of the round of median rate (the lower of the two
    middle ones for an even number of rounds), with "rate" the median of every round's (for an
    even number, the mean of the two middle ones) and "rates": every round's"""
    rates = [r["rate"] for r in found]
    return {**sorted(found, key=lambda r: r["rate"])[(len(found) - 1) // 2], "rate": statistics.median(rates),
            "rates": rates}


def compared(ours, theirs, commit):
    """Lines of this code's rates against `commit`'s: ours, bench's rows (of the configuration
    --flags names, if any, see median_round); theirs, its records (of its default configuration),
    whose median rate is taken."""
    lines = []
    for r in ours:
        found = [t["rate"] for run in theirs for t in run["rows"]
                 if (t["model"], t["precision"], t["compile"]) == (r["model"], r["precision"], r["compile"])]
        if found:
            rate = statistics.median(found)
            label = " ".join(filter(None, (r["model"], r.get("flags"), records.variant(r))))
            lines.append(f"{label}: {r['rate']:.1f} it/s here (median of {', '.join(f'{x:.1f}' for x in r['rates'])}), "
                         f"{rate:.1f} at {commit} (median of {', '.join(f'{x:.1f}' for x in found)}): "
                         f"{r['rate'] / rate:.2f}x")
    return lines
