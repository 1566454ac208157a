"""The results page: every run record under one or more folders, aggregated over seeds.

    python -m codebase.report --logs results        # results/RESULTS.md, the published page,
                                                    # and the measured tables of both READMEs
    python -m codebase.report                       # logs/RESULTS.md, over your own runs

A run record is a folder <run name>/ holding the metrics.json a run script writes and its
pictures (*.png); runs made on several machines are aggregated once their folders are copied
together, or named side by side after --logs.
"""
import argparse
import glob
import json
import math
import os
import re
import shlex
import statistics
import sys
from collections import defaultdict

from codebase import evaluate, models

BETA_PLOTS = ("beta_rate_distortion.png", "beta_nelbo.png")


def load(folders):
    """The records of every <folder>/*/metrics.json that parses, warning about the others.

    Each record is the run's JSON with "dir", its folder, added.
    """
    records = []
    for folder in folders:
        for path in sorted(glob.glob(os.path.join(folder, "*", "metrics.json"))):
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


def aggregate(records):
    """Group replicates by configuration (the run name without its _run=NNNN).

    Returns {configuration: {"model", "config", "n", "seeds", "values": {metric: [per seed]},
             "metrics": {metric: (mean, se)}, "train_minutes", "eval_seconds", "commands",
             "dirs", "undrawn", "precision", "machine"}}, in name order.
    """
    groups = defaultdict(list)
    for r in records:
        groups[re.sub(r"_run=\d+$", "", r["name"])].append(r)
    out = {}
    for name, rs in sorted(groups.items()):
        rs.sort(key=lambda r: r["seed"])
        values = {k: [r["metrics"][k] for r in rs] for k in rs[0]["metrics"]}
        out[name] = {
            "model": rs[0]["model"], "config": rs[0]["config"], "n": len(rs), "seeds": [r["seed"] for r in rs],
            "values": values, "metrics": {k: evaluate.mean_se(v) for k, v in values.items()},
            "train_minutes": [r["train_seconds"] / 60 for r in rs],
            "eval_seconds": [r["eval_seconds"] for r in rs],
            "commands": sorted({r["command"] for r in rs}), "dirs": [r["dir"] for r in rs],
            "undrawn": rs[0].get("undrawn"), "precision": rs[0].get("precision", "fp32"),
            "machine": "; ".join(sorted({_machine(r) for r in rs})),
        }
    return out


def _machine(r):
    """Where a record was made, e.g. 'AMD EPYC (...), x86_64, 2 cores, 2 threads, cpu, torch 2.14.1'."""
    cpu = f"{r['cpu']}, " if "cpu" in r else ""
    return f"{cpu}{r['machine']}, {_plural(r['threads'], 'thread')}, {r['device']}, torch {r['torch']}"


def _expected(name):
    """The course's {metric: (value, tolerance)} for the configuration `name`, or {}; a run with
    bfloat16 products (name ending _precision=bf16) is held to its float32 configuration's."""
    name = re.sub(r"_precision=\w+$", "", name)
    return next((s.expected[name] for s in models.REGISTRY.values() if name in s.expected), {})


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def fmt(mean, se, digits=2):
    return f"{mean:.{digits}f}" + ("" if math.isnan(se) else f" ± {se:.{digits}f}")


def _digits(metric):
    return 4 if metric.startswith("accuracy") else 2


def _inside(values, mean, expected):
    """'yes' or 'no' for the mean, and how many seeds lie inside expected = (value, tolerance)."""
    lo, hi = expected[0] - expected[1], expected[0] + expected[1]
    seeds = sum(lo <= v <= hi for v in values)
    return f"{'yes' if lo <= mean <= hi else 'NO'} ({seeds}/{len(values)} seeds)"


def headline(groups):
    """One row per configuration: its headline metric beside the course's value."""
    rows = ["| configuration | n | metric | measured | course | inside |", "| --- | --- | --- | --- | --- | --- |"]
    for name, g in groups.items():
        spec = models.of_class(g["model"])
        key = spec and spec.headline
        if key in g["metrics"]:
            expected = _expected(name).get(key)
            rows.append(f"| `{name}` | {g['n']} | {key} | {fmt(*g['metrics'][key], _digits(key))} | "
                        + (f"{expected[0]} ± {expected[1]} | {_inside(g['values'][key], g['metrics'][key][0], expected)} |"
                           if expected else "| |"))
    return rows


def section(name, g, out_dir):
    """A configuration's metrics beside the course's values, its cost, command and pictures."""
    lines = [f"### `{name}`", "", f"{_plural(g['n'], 'seed')} ({', '.join(map(str, g['seeds']))}).", "",
             "| metric | measured, mean ± SE | per seed | course | inside |", "| --- | --- | --- | --- | --- |"]
    for key, (mean, se) in g["metrics"].items():
        if key.endswith("_se"):
            continue
        d = _digits(key)
        per_seed = ", ".join(f"{v:.{d}f}" for v in g["values"][key])
        label = f"{key[5:]}, all 10000 test images" if key.startswith("full/") else key
        expected = _expected(name).get(key)
        course = f"{expected[0]} ± {expected[1]} | {_inside(g['values'][key], mean, expected)}" if expected else "– | –"
        lines.append(f"| {label} | {fmt(mean, se, d)} | {per_seed} | {course} |")
    image_se = [(k[5:-3], statistics.fmean(v)) for k, v in g["values"].items() if k.startswith("full/") and k.endswith("_se")]
    if image_se:
        lines += ["", "On all 10000 test images each seed's estimate has a standard error over images of about "
                  + ", ".join(f"{se:.2f} ({k})" for k, se in image_se) + "; the ± above is over seeds."]
    train, evaluation = g["train_minutes"], g["eval_seconds"]
    lines += ["", f"Wall time per run: training {statistics.fmean(train):.1f} min (from {min(train):.1f} to "
              f"{max(train):.1f}), evaluation {statistics.fmean(evaluation):.0f} s; {g['machine']}.",
              f"Command: {'; '.join(f'`{c}`' for c in g['commands'])}.", ""]
    first = g["dirs"][0]
    pictures = sorted(glob.glob(os.path.join(first, "*.png")), key=lambda p: (os.path.basename(p) != "samples.png", p))
    for p in pictures:
        lines += [f"![{os.path.basename(p)[:-4]}, seed {g['seeds'][0]}]({os.path.relpath(p, out_dir)})", ""]
    if g["undrawn"]:
        lines += [f"No pictures: {g['undrawn']}.", ""]
    return lines


def beta_table(groups):
    """The VAE (z = 10, float32) configurations by beta: {beta: group}."""
    return {g["config"]["beta"]: g for g in groups.values()
            if g["model"] == "VAE" and g["config"].get("z_dim") == 10 and g["precision"] == "fp32"}


def render(groups, out_dir, command="python -m codebase.report"):
    """The page's Markdown; its image links are relative to out_dir, the page's folder."""
    lines = ["# Results", "",
             f"Generated by `{command}` from the run records beside this page (each run's",
             "`metrics.json` and pictures, as its run script wrote them into `logs/<run name>/`): every",
             "number below comes from those records. Mean ± standard error over seeds (sample standard",
             "deviation / sqrt(n)). The VAE and GMVAE bounds are in nats on the course's 100 test images",
             "(lower is better), and, beyond the course, on all 10000 test images; the SSVAE accuracy is on",
             "all 10000 test images as grey levels, as the course scores it. \"Course\" is the",
             "assignment's expected value ± tolerance; \"inside\" says whether the mean lies within it,",
             "and how many seeds do.", "", "## Headline", "", *headline(groups), ""]
    declared = [c.__name__ for s in models.REGISTRY.values() for c in s.classes]
    for model in declared + sorted({g["model"] for g in groups.values()} - set(declared)):
        sub = {k: g for k, g in groups.items() if g["model"] == model}
        if sub:
            lines += [f"## {model}", ""]
            for name, g in sub.items():
                lines += section(name, g, out_dir)
    betas = beta_table(groups)
    if len(betas) > 1:
        lines += ["## beta-VAE (z = 10)", "", "The training loss is Rec + β KL; every figure is the true (β = 1) bound.", "",
                  "| β | n | KL | Rec | NELBO | IWAE-1000 |", "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {b:g} | {g['n']} | " + " | ".join(fmt(*g["metrics"][k]) for k in ("KL", "Rec", "NELBO", "IWAE-1000"))
                  + " |" for b, g in sorted(betas.items())]
        lines += [""] + [f"![{f[:-4]}]({f})" for f in BETA_PLOTS] + [""]
    return "\n".join(lines).rstrip() + "\n"


def beta_plots(betas, out_dir):
    """Rate (KL) against distortion (Rec), and the true bounds against beta, into out_dir."""
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
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, BETA_PLOTS[0]), dpi=100)
    fig, ax = plt.subplots(figsize=(5, 4))
    for key in ("NELBO", "IWAE-1000"):
        ax.errorbar(b, [x[key][0] for x in m], yerr=[_bar(x[key][1]) for x in m], fmt="o-", label=key)
    ax.set(xscale="log", xlabel="β", ylabel="nats (test)", title="True bound against β")
    ax.set_xticks(b, [f"{x:g}" for x in b])  # a tick at each swept β, none between
    ax.minorticks_off()
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, BETA_PLOTS[1]), dpi=100)
    plt.close("all")


def _bar(se):
    return 0 if math.isnan(se) else se


README_BLOCKS = ("results", "outliers", "beta", "precision", "m1m2", "speed")  # <!-- name --> ... <!-- /name --> in a README
# The README's rows: the published configurations, with their names in English and Spanish.
LABELS = {
    "model=vae_z=10_beta=1": ("VAE", "VAE"),
    "model=gmvae_z=10_k=500": ("GMVAE", "GMVAE"),
    "model=ssvae_gw=0_cw=100": ("SSVAE, 100 labels alone", "SSVAE, solo las 100 etiquetas"),
    "model=ssvae_gw=1_cw=100": ("SSVAE, semi-supervised", "SSVAE, semisupervisado"),
    "model=vae_z=10_beta=1_precision=bf16": ("VAE, bf16 products", "VAE, productos en bf16"),
    "model=gmvae_z=10_k=500_precision=bf16": ("GMVAE, bf16 products", "GMVAE, productos en bf16"),
    "model=ssvae_gw=1_cw=100_precision=bf16": ("SSVAE, semi-supervised, bf16 products",
                                               "SSVAE, semisupervisado, productos en bf16"),
    "model=m1m2_gw=1_cw=1_z=10_hidden=500_layers=1_code=sample": ("M1+M2, beyond the course (the paper: 0.967)",
                                                                 "M1+M2, más allá del curso (el artículo: 0.967)"),
}
WORDS = {  # the generated README text, by language: English, Spanish
    "header": ("| model | command | seeds | metric | measured | course |",
               "| modelo | comando | semillas | métrica | medido | curso |"),
    "all": ("all 10000 test images", "las 10000 imágenes de test"),
    "accuracy": ("test accuracy", "exactitud en test"),
    "inside": ("Every mean lies inside the course's tolerance.", "Todas las medias caen dentro de la tolerancia del curso."),
    "outside": ("Means outside the course's tolerance: {}.", "Medias fuera de la tolerancia del curso: {}."),
    "seeds": ("Single seeds outside it: {}.", "Semillas sueltas fuera de ella: {}."),
    "seed": ("{} seed {}: {}", "{}, semilla {}: {}"),
    "beta": ("| β | seeds | KL | Rec | NELBO | IWAE-1000 |", "| β | semillas | KL | Rec | NELBO | IWAE-1000 |"),
    "jobs": ("{} ({}): two VAE replicates of {} iterations took {:.1f} s with `--jobs 2` ({} thread each) and "
             "{:.1f} s with `--jobs 1`, a ratio of {:.2f}, start-up and evaluation included.",
             "{} ({}): dos réplicas del VAE de {} iteraciones tardaron {:.1f} s con `--jobs 2` ({} hilo cada una) y "
             "{:.1f} s con `--jobs 1`, una razón de {:.2f}, arranque y evaluación incluidos."),
    "speed": ("| CPU or GPU, threads | date | model | precision | it/s | late it/s, at iteration | training | evaluation | peak RSS |",
              "| CPU o GPU, hilos | fecha | modelo | precisión | it/s | it/s tarde, en la iteración | entrenamiento | evaluación | RSS máximo |"),
    "profile": ("| CPU, threads | model | precision | operators per step | of which matrix products |",
                "| CPU, hilos | modelo | precisión | operadores por paso | de ellos, productos de matrices |"),
    "m1m2": ("| configuration | seed | test accuracy | M1 training | M2 training | M1 + M2 | pixel SSVAE training, same seed |",
             "| configuración | semilla | exactitud en test | entrenamiento de M1 | entrenamiento de M2 | M1 + M2 | "
             "entrenamiento del SSVAE en píxeles, misma semilla |"),
    "precision": ("| model | seeds, in both | metric | fp32 | bf16 | bf16 - fp32, seed by seed | training, min: fp32 / bf16 |",
                  "| modelo | semillas, en ambas | métrica | fp32 | bf16 | bf16 - fp32, semilla a semilla | entrenamiento, min: fp32 / bf16 |"),
}


def _word(key, lang):
    return WORDS[key][lang == "es"]


def readme_blocks(groups, benches, lang="en"):
    """The README's measured tables, made from the records: {block name: Markdown}.

    groups: aggregate(...) of the published records; benches: the benchmark's records
    (results/bench*.json); lang: "en" or "es"
    """
    course = [(n, LABELS[n]) for n in LABELS if n in groups]
    rows = [_word("header", lang), "| --- | --- | --- | --- | --- | --- |"]
    for name, label in course:
        g = groups[name]
        cells = [label[lang == "es"], "; ".join(f"`{c}`" for c in g["commands"]), str(g["n"])]
        for i, (metric, keys) in enumerate(_readme_rows(g, lang)):
            means = [g["metrics"][k] for k in keys]
            measured = " / ".join(fmt(m, se, _digits(k)) for (m, se), k in zip(means, keys))
            expected = [_expected(name).get(k) for k in keys]
            course_cell = " / ".join(f"{e[0]} ± {e[1]}" for e in expected) if all(expected) else "–"
            rows.append("| " + " | ".join((cells if i == 0 else ["", "", ""]) + [metric, measured, course_cell]) + " |")
    means, seeds = [], []
    for name, label in course:
        g, label = groups[name], label[lang == "es"]
        by_seed = defaultdict(list)
        for k, (value, tolerance) in _expected(name).items():
            inside = lambda v: value - tolerance <= v <= value + tolerance  # noqa: E731
            for seed, v in zip(g["seeds"], g["values"][k]):
                if not inside(v):
                    by_seed[seed].append(k)
            if not inside(g["metrics"][k][0]):
                means.append(f"{label} {k}")
        seeds += [_word("seed", lang).format(label, seed, ", ".join(ks)) for seed, ks in sorted(by_seed.items())]
    said = _word("outside", lang).format(", ".join(means)) if means else _word("inside", lang)
    blocks = {"results": "\n".join(rows),
              "outliers": said + (" " + _word("seeds", lang).format("; ".join(seeds)) if seeds else "")}
    betas = beta_table(groups)
    blocks["beta"] = "\n".join([_word("beta", lang), "| --- | --- | --- | --- | --- | --- |"] + [
        f"| {b:g} | {g['n']} | " + " | ".join(fmt(*g["metrics"][k]) for k in ("KL", "Rec", "NELBO", "IWAE-1000")) + " |"
        for b, g in sorted(betas.items())])
    precision = [_word("precision", lang), "| --- | --- | --- | --- | --- | --- | --- |"]
    for name in LABELS:
        low = groups.get(f"{name}_precision=bf16")
        if low and name in groups:  # over the seeds run in both precisions, seed by seed
            g, key = groups[name], models.of_class(low["model"]).headline
            d = _digits(key)
            seeds = [s for s in low["seeds"] if s in g["seeds"]]
            a, b = (_by_seed(h, h["values"][key], seeds) for h in (g, low))
            minutes = " / ".join(f"{statistics.fmean(_by_seed(h, h['train_minutes'], seeds)):.1f}" for h in (g, low))
            precision.append(f"| {LABELS[name][lang == 'es']} | {', '.join(map(str, seeds))} | {key} | "
                             f"{fmt(*evaluate.mean_se(a), d)} | {fmt(*evaluate.mean_se(b), d)} | "
                             f"{fmt(*evaluate.mean_se([y - x for x, y in zip(a, b)]), d)} | {minutes} |")
    blocks["precision"] = "\n".join(precision)
    blocks["m1m2"] = "\n".join([_word("m1m2", lang), "| --- | --- | --- | --- | --- | --- | --- |"] + m1m2_rows(groups))
    speed = [_word("speed", lang), "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for b in benches:
        for r in b["rows"]:
            speed.append(f"| {_where(b)} | {b['date'][:10]} | {r['model']} | {r.get('precision', 'fp32')} | {r['rate']:.1f} | "
                         + (f"{r['late_rate']:.1f} at {r['late_iteration']}" if r["late_rate"] else "–")
                         + f" | {r['train_minutes']:.1f} min | {r['eval_seconds']:.1f} s | {r['peak_rss_mb']:.0f} MB |")
    profiled = [(b, r) for b in benches for r in b["rows"] if "ops_ms" in r]
    if profiled:
        speed += ["", _word("profile", lang), "| --- | --- | --- | --- | --- |"]
        speed += [f"| {_where(b)} | {r['model']} | "
                  f"{r['precision']} | {r['ops_ms']:.2f} ms | {r['products_ms']:.2f} ms |" for b, r in profiled]
    for b in benches:
        if b.get("jobs"):
            j = b["jobs"]
            speed.append("")
            speed.append(_word("jobs", lang).format(b["cpu"], b["date"][:10], j["iterations"], j["seconds_jobs_2"],
                                                    j["threads"], j["seconds_jobs_1"], j["ratio"]))
    blocks["speed"] = "\n".join(speed)
    return blocks


def m1m2_rows(groups, pixels="model=ssvae_gw=1_cw=100"):
    """A row per M1+M2 seed: its accuracy and the training minutes of its M1 (the record of the run
    named in its config), of its M2 and of both, beside the pixel SSVAE's of the same seed."""
    def minutes(g, seed):  # nan where there is no such record
        return _by_seed(g, g["train_minutes"], [seed])[0] if g and seed in g["seeds"] else math.nan

    rows = []
    for name, g in groups.items():
        if g["model"] == "M1M2":
            for seed, accuracy, m2 in zip(g["seeds"], g["values"]["accuracy"], g["train_minutes"]):
                m1 = minutes(groups.get(g["config"]["m1"]), seed)
                rows.append(f"| `{name}` | {seed} | {accuracy:.4f} | {m1:.1f} min | {m2:.1f} min | {m1 + m2:.1f} min | "
                            f"{minutes(groups.get(pixels), seed):.1f} min |")
    return rows


def _where(bench):
    """What a benchmark record ran on: 'CPU model, threads' or 'GPU, threads'."""
    return f"{bench['cpu'] if bench['device'] == 'cpu' else bench['device']}, {bench['threads']}"


def _by_seed(g, values, seeds):
    """values (one per seed of the group g) of the given seeds, in their order."""
    return [values[g["seeds"].index(s)] for s in seeds]


def _readme_rows(g, lang):
    """[(metric label, metric keys)] of a configuration's rows in the README's table."""
    if "accuracy" in g["metrics"]:
        return [(_word("accuracy", lang), ["accuracy"])]
    rows = [("NELBO / KL / Rec", ["NELBO", "KL", "Rec"]),
            ("IWAE-1 / 10 / 100 / 1000", ["IWAE-1", "IWAE-10", "IWAE-100", "IWAE-1000"])]
    full = [k for k in ("full/NELBO", "full/IWAE-100") if k in g["metrics"]]
    return rows + ([(f"{_word('all', lang)}: NELBO / IWAE-100", full)] if full else [])


def load_benches(folder):
    """The benchmark's records, folder/bench*.json, oldest first."""
    benches = []
    for path in sorted(glob.glob(os.path.join(folder, "bench*.json"))):
        with open(path) as f:
            benches.append(json.load(f))
    return sorted(benches, key=lambda b: b["date"])


def fill(text, blocks):
    """text with each <!-- name --> ... <!-- /name --> span's inside replaced by blocks[name]."""
    for name, block in blocks.items():
        text = re.sub(rf"(<!-- {name} -->\n)(?:.*?\n)?(<!-- /{name} -->)", lambda m: f"{m[1]}{block}\n{m[2]}", text,
                      flags=re.S)
    return text


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logs", nargs="+", default=["logs"], help="folders holding one folder per run")
    p.add_argument("--out", help="the page (default: <first --logs folder>/RESULTS.md)")
    p.add_argument("--readme", nargs="*", default=[], metavar="FILE",
                   help="READMEs whose measured tables to rewrite from these records (FILE.es.md: in Spanish)")
    args = p.parse_args(argv)
    out = args.out or os.path.join(args.logs[0], "RESULTS.md")
    records = load(args.logs)
    if not records:
        print(f"error: no metrics.json under {', '.join(f + '/*/' for f in args.logs)}; train first, "
              "e.g. python run_vae.py", file=sys.stderr)
        return 1
    out_dir = os.path.dirname(os.path.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    groups = aggregate(records)
    betas = beta_table(groups)
    if len(betas) > 1:
        beta_plots(betas, out_dir)
    command = shlex.join(["python", "-m", "codebase.report", *(sys.argv[1:] if argv is None else argv)])
    with open(out, "w") as f:
        f.write(render(groups, out_dir, command))
    print(f"wrote {out} ({len(records)} runs)")
    for path in args.readme:
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(fill(text, readme_blocks(groups, load_benches(args.logs[0]), "es" if path.endswith(".es.md") else "en")))
        print(f"wrote the measured tables of {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
