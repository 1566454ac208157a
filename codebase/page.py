"""The results page, RESULTS.md: every configuration's records beside the course's values, and
what the page says of a configuration. What it says of a model (its headline metric, the course's
values, its README rows, the argument it sweeps) the model's class declares (codebase.model)."""
import glob
import math
import os
import statistics

from codebase import models, records


def published(g):
    """The model.Published row that the group g's configuration falls under, or None."""
    cls = models.by_name(g["model"])
    return next((p for p in cls.published if p.config.items() <= g["config"].items()), None) if cls else None


def course(g):
    """The course's {metric: (value, tolerance)} for the group g ({} if none); a run of another
    variant (bfloat16 products, compiled steps) is held to the course's configuration's."""
    p = published(g)
    return p.course if p else {}


def fmt(mean, se, digits=2):
    return f"{mean:.{digits}f}" + ("" if math.isnan(se) else f" ± {se:.{digits}f}")


def digits(metric):
    return 4 if metric.startswith("accuracy") else 2


def _inside(values, mean, expected):
    """'yes' or 'no' for the mean, and how many seeds lie inside expected = (value, tolerance)."""
    lo, hi = expected[0] - expected[1], expected[0] + expected[1]
    seeds = sum(lo <= v <= hi for v in values)
    return f"{'yes' if lo <= mean <= hi else 'NO'} ({seeds}/{len(values)} seeds)"


def headline(groups):
    """One row per configuration: its headline metric beside the course's value."""
    rows = ["| configuration | n | metric | measured | course | inside |", "| --- | --- | --- | --- | --- | --- |"]
    for g in groups:
        cls = models.by_name(g["model"])
        key = cls and cls.headline
        if key in g["metrics"]:
            expected = course(g).get(key)
            rows.append(f"| `{g['name']}` | {g['n']} | {key} | {fmt(*g['metrics'][key], digits(key))} | "
                        + (f"{expected[0]} ± {expected[1]} | "
                           f"{_inside(g['values'][key], g['metrics'][key][0], expected)} |"
                           if expected else "| |"))
    return rows


def section(g, out_dir):
    """A configuration's metrics beside the course's values, its cost, command and pictures."""
    short = f" of the {asked} its command asks for" if (asked := records.asked(g)) > g["n"] else ""
    lines = [f"### `{g['name']}`", "",
             f"{g['n']} seed{'' if g['n'] == 1 else 's'} ({', '.join(map(str, g['seeds']))}){short}.",
             "", "| metric | measured, mean ± SE | per seed | course | inside |", "| --- | --- | --- | --- | --- |"]
    for key, (mean, se) in g["metrics"].items():
        if key.endswith("_se"):
            continue
        d = digits(key)
        per_seed = ", ".join(f"{v:.{d}f}" for v in g["values"][key])
        label = f"{key[5:]}, all 10000 test images" if key.startswith("full/") else key
        expected = course(g).get(key)
        said = f"{expected[0]} ± {expected[1]} | {_inside(g['values'][key], mean, expected)}" if expected else "– | –"
        lines.append(f"| {label} | {fmt(mean, se, d)} | {per_seed} | {said} |")
    image_se = [(k[5:-3], statistics.fmean(v)) for k, v in g["values"].items()
                if k.startswith("full/") and k.endswith("_se")]
    if image_se:
        lines += ["", "On all 10000 test images each seed's estimate has a standard error over images of about "
                  + ", ".join(f"{se:.2f} ({k})" for k, se in image_se) + "; the ± above is over seeds."]
    times = []
    for cpu, rs in records.by_cpu(g).items():
        train = [r["train_seconds"] / 60 for r in rs]
        times.append(f"training {statistics.fmean(train):.1f} min (from {min(train):.1f} to {max(train):.1f}), "
                     f"evaluation {statistics.fmean(r['eval_seconds'] for r in rs):.0f} s, on {cpu} threads "
                     f"({len(rs)} seed{'' if len(rs) == 1 else 's'})")
    lines += ["", f"Wall time per run, mean (from min to max): {'; '.join(times)}; {g['machine']}; the code of "
              f"{', '.join(sorted({r.get('commit', '?')[:7] for r in g['records']}))}"
              + "".join(f", before {commit} ({what})" for _, commit, what in records.predates(g)) + ".",
              f"Command: {'; '.join(f'`{c}`' for c in g['commands'])}.", ""]
    if g["dirty"]:
        lines += [f"Made with uncommitted changes (no clean record of these seeds): seed{'s' * (len(g['dirty']) > 1)} "
                  f"{', '.join(map(str, g['dirty']))}.", ""]
    if g["aside"]:
        lines += ["Not counted: " + "; ".join(
            f"seed {r['seed']} at {r.get('commit', '?')[:7]} ({r.get('cpu', r['device'])}, {r.get('date', '?')[:10]}), "
            + ("a rerun of a seed counted above" if r["why"] == "rerun" else "made with uncommitted changes")
            for r in g["aside"]) + ".", ""]
    first = g["dirs"][0]
    pictures = sorted(glob.glob(os.path.join(first, "*.png")), key=lambda p: (os.path.basename(p) != "samples.png", p))
    for p in pictures:
        lines += [f"![{os.path.basename(p)[:-4]}, seed {g['seeds'][0]}]({os.path.relpath(p, out_dir)})", ""]
    if g["undrawn"]:
        lines += [f"No pictures: {g['undrawn']}.", ""]
    return lines


def sweeps(groups):
    """{(model, argument): {value: group}}: for each model that sweeps an argument, its float32 eager
    configurations that differ from its first published one in that argument alone."""
    out = {}
    for cls in models.ALL:
        if cls.sweep and cls.published:
            fixed = {k: v for k, v in cls.published[0].config.items() if k != cls.sweep}
            found = {g["config"][cls.sweep]: g for g in groups if g["model"] == cls.__name__ and g["variant"] == "fp32"
                     and cls.sweep in g["config"] and fixed.items() <= g["config"].items()}
            if len(found) > 1:
                out[cls.__name__, cls.sweep] = found
    return out


def sweep_rows(found, header):
    return [header, "| --- | --- | --- | --- | --- | --- |"] + [
        f"| {v:g} | {g['n']} | " + " | ".join(fmt(*g["metrics"][k]) for k in ("KL", "Rec", "NELBO", "IWAE-1000")) + " |"
        for v, g in sorted(found.items())]


def plot_names(argument):
    return f"{argument}_rate_distortion.png", f"{argument}_nelbo.png"


def render(groups, out_dir, command="python -m codebase.report"):
    """The page's Markdown; its image links are relative to out_dir, the page's folder."""
    lines = ["# Results", "",
             f"Generated by `{command}` from the run records beside this page (each run's",
             "`metrics.json` and pictures, as its run script wrote them into `logs/<run name>/`): every",
             "number below comes from those records. Mean ± standard error over seeds (sample standard",
             "deviation / sqrt(n)). The bounds are in nats on the course's 100 test images (lower is",
             "better), and, beyond the course, on all 10000 test images; the accuracies are on all 10000",
             "test images as grey levels, as the course scores them. \"Course\" is the",
             "assignment's expected value ± tolerance; \"inside\" says whether the mean lies within it,",
             "and how many seeds do.", "", "## Headline", "", *headline(groups), ""]
    known = [cls.__name__ for cls in models.ALL]
    for model in known + sorted({g["model"] for g in groups} - set(known)):
        sub = [g for g in groups if g["model"] == model]
        if sub:
            lines += [f"## {model}", ""]
            for g in sub:
                lines += section(g, out_dir)
    for (model, argument), found in sweeps(groups).items():
        lines += [f"## {model} by {argument}", "", "The training loss weighs its terms by this argument; every figure "
                  "is the true bound.", "",
                  *sweep_rows(found, f"| {argument} | seeds | KL | Rec | NELBO | IWAE-1000 |"), ""]
        lines += [f"![{f[:-4]}]({f})" for f in plot_names(argument)] + [""]
    return "\n".join(lines).rstrip() + "\n"


def sweep_plots(model, argument, found, out_dir):
    """Rate (KL) against distortion (Rec), and the true bounds against the argument, into out_dir."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = sorted(found)
    m = [found[k]["metrics"] for k in b]
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.errorbar([x["KL"][0] for x in m], [x["Rec"][0] for x in m], xerr=[_bar(x["KL"][1]) for x in m],
                yerr=[_bar(x["Rec"][1]) for x in m], fmt="o-")
    for k, x in zip(b, m, strict=True):
        ax.annotate(f"{argument}={k:g}", (x["KL"][0], x["Rec"][0]), textcoords="offset points", xytext=(5, 5))
    ax.set(xlabel="KL (rate, nats)", ylabel="Rec (distortion, nats)",
           title=f"{model} by {argument}: rate against distortion")
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, plot_names(argument)[0]), dpi=100)
    fig, ax = plt.subplots(figsize=(5, 4))
    for key in ("NELBO", "IWAE-1000"):
        ax.errorbar(b, [x[key][0] for x in m], yerr=[_bar(x[key][1]) for x in m], fmt="o-", label=key)
    ax.set(xscale="log", xlabel=argument, ylabel="nats (test)", title=f"True bound against {argument}")
    ax.set_xticks(b, [f"{x:g}" for x in b])  # a tick at each swept value, none between
    ax.minorticks_off()
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, plot_names(argument)[1]), dpi=100)
    plt.close("all")


def _bar(se):
    return 0 if math.isnan(se) else se
