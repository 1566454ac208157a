"""Aggregate every logs/*/metrics.json into a Markdown report: python -m codebase.report"""
import argparse
import glob
import json
import math
import os
import re
import statistics
import sys
from collections import defaultdict

BOUNDS = ("NELBO", "KL", "Rec", "IWAE-1", "IWAE-10", "IWAE-100", "IWAE-1000")


def load(logs_dir):
    """Returns the records of every <logs_dir>/*/metrics.json that parses, warning about others."""
    records = []
    for path in sorted(glob.glob(os.path.join(logs_dir, "*", "metrics.json"))):
        try:
            with open(path) as f:
                record = json.load(f)
            record["metrics"], record["name"]
        except (OSError, ValueError, KeyError) as e:
            print(f"warning: skipping {path}: {type(e).__name__}", file=sys.stderr)
            continue
        record["dir"] = os.path.dirname(path)
        records.append(record)
    return records


def mean_se(values):
    """(mean, standard error = sample std / sqrt(n)); the error is nan for one value."""
    n = len(values)
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(n) if n > 1 else math.nan


def aggregate(records):
    """Group replicates by configuration (the run name without its _run=NNNN).

    Returns {configuration: {"model", "config", "n", "metrics": {name: (mean, se)},
             "train_minutes", "commands", "seeds", "dirs", "machine"}}, in name order.
    """
    groups = defaultdict(list)
    for r in records:
        groups[re.sub(r"_run=\d+$", "", r["name"])].append(r)
    out = {}
    for name, rs in sorted(groups.items()):
        rs.sort(key=lambda r: r["seed"])
        out[name] = {
            "model": rs[0]["model"], "config": rs[0]["config"], "n": len(rs),
            "metrics": {k: mean_se([r["metrics"][k] for r in rs]) for k in rs[0]["metrics"]},
            "train_minutes": statistics.fmean(r["train_seconds"] / 60 for r in rs),
            "commands": sorted({r["command"] for r in rs}), "seeds": [r["seed"] for r in rs],
            "dirs": [r["dir"] for r in rs],
            "machine": f"{rs[0]['machine']}, {rs[0]['threads']} threads, {rs[0]['device']}, torch {rs[0]['torch']}",
        }
    return out


def fmt(mean, se, digits=2):
    return f"{mean:.{digits}f}" + ("" if math.isnan(se) else f" ± {se:.{digits}f}")


def table(groups, keys, digits=2):
    head = ["configuration", "n", *keys, "train min"]
    rows = [head, ["---"] * len(head)]
    for name, g in groups.items():
        rows.append([f"`{name}`", str(g["n"]), *(fmt(*g["metrics"][k], digits) for k in keys),
                     f"{g['train_minutes']:.1f}"])
    return ["| " + " | ".join(r) + " |" for r in rows]


def beta_plots(betas, out_dir):
    """Rate (KL) against distortion (Rec), and the true NELBO against beta; returns the files."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = sorted(betas)
    m = [betas[k]["metrics"] for k in b]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.errorbar([x["KL"][0] for x in m], [x["Rec"][0] for x in m], xerr=[_bar(x["KL"][1]) for x in m],
                yerr=[_bar(x["Rec"][1]) for x in m], fmt="o-")
    for k, x in zip(b, m):
        ax.annotate(f"β={k:g}", (x["KL"][0], x["Rec"][0]), textcoords="offset points", xytext=(5, 5))
    ax.set(xlabel="KL (rate, nats)", ylabel="Rec (distortion, nats)", title="beta-VAE: rate against distortion")
    files = ["beta_rate_distortion.png", "beta_nelbo.png"]
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, files[0]), dpi=100)
    fig, ax = plt.subplots(figsize=(5, 4))
    for key in ("NELBO", "IWAE-1000"):
        ax.errorbar(b, [x[key][0] for x in m], yerr=[_bar(x[key][1]) for x in m], fmt="o-", label=key)
    ax.set(xscale="log", xlabel="β", ylabel="nats (test)", title="True bound against β")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, files[1]), dpi=100)
    plt.close("all")
    return files


def _bar(se):
    return 0 if math.isnan(se) else se


def render(groups, out_dir):
    """The report's Markdown; writes the beta plots into out_dir when there are 2+ betas."""
    lines = ["# Results", "", "Regenerate with `python -m codebase.report`. Mean ± standard error over",
             "n replicates (sample std / sqrt(n)); nats on the 100 fixed test images; lower is better.", ""]
    for model, keys, digits in (("VAE", BOUNDS, 2), ("GMVAE", BOUNDS, 2), ("SSVAE", ("accuracy",), 4)):
        sub = {k: g for k, g in groups.items() if g["model"] == model}
        if sub:
            lines += [f"## {model}", "", *table(sub, keys, digits), ""]
    betas = {g["config"]["beta"]: g for g in groups.values()
             if g["model"] == "VAE" and g["config"].get("z_dim") == 10}
    if len(betas) > 1:
        lines += ["## beta-VAE (z = 10)", "", "| β | n | KL | Rec | NELBO |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {b:g} | {g['n']} | {fmt(*g['metrics']['KL'])} | {fmt(*g['metrics']['Rec'])} | "
                  f"{fmt(*g['metrics']['NELBO'])} |" for b, g in sorted(betas.items())]
        lines += [""] + [f"![{f}]({f})" for f in beta_plots(betas, out_dir)] + [""]
    lines += ["## Commands", ""]
    for name, g in groups.items():
        lines.append(f"- `{name}`: {'; '.join(f'`{c}`' for c in g['commands'])} (seeds "
                     f"{', '.join(map(str, g['seeds']))}; {g['machine']})")
    lines += ["", "## Samples", ""]
    for name, g in groups.items():
        grid = os.path.join(g["dirs"][0], "samples.png")
        if os.path.exists(grid):
            lines += [f"`{name}` (seed {g['seeds'][0]}):", "", f"![{name}]({os.path.relpath(grid, out_dir)})", ""]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--logs", default="logs", help="folder holding one folder per run")
    p.add_argument("--out", help="report path (default: <logs>/REPORT.md)")
    args = p.parse_args(argv)
    out = args.out or os.path.join(args.logs, "REPORT.md")
    records = load(args.logs)
    if not records:
        print(f"error: no metrics.json under {args.logs}/*/; train first, e.g. python run_vae.py",
              file=sys.stderr)
        return 1
    out_dir = os.path.dirname(os.path.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    text = render(aggregate(records), out_dir)
    with open(out, "w") as f:
        f.write(text + "\n")
    print(f"wrote {out} ({len(records)} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
