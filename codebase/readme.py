"""The READMEs' measured tables, made from the records: each <!-- name --> ... <!-- /name -->
block of a README, in English or Spanish."""
import glob
import inspect
import json
import os
import re

from codebase import against, bench, flags, models, records
from codebase.page import course, digits, fmt, published, sweep_rows, sweeps
from codebase.records import mean_se

VARIANTS = ("fp32", "bf16", "fp32 compiled", "bf16 compiled")  # the README's order
WORDS = {  # the generated README text, by language: English, Spanish
    "header": ("| model | command | seeds | metric | measured | course |",
               "| modelo | comando | semillas | métrica | medido | curso |"),
    "all": ("all 10000 test images", "las 10000 imágenes de test"),
    "accuracy": ("test accuracy", "exactitud en test"),
    "inside": ("Every mean lies inside the course's tolerance.",
               "Todas las medias caen dentro de la tolerancia del curso."),
    "outside": ("Means outside the course's tolerance: {}.", "Medias fuera de la tolerancia del curso: {}."),
    "seeds": ("Single seeds outside it: {}.", "Semillas sueltas fuera de ella: {}."),
    "seed": ("{} seed {}: {}", "{}, semilla {}: {}"),
    "sweep": ("| {} | seeds | KL | Rec | NELBO | IWAE-1000 |", "| {} | semillas | KL | Rec | NELBO | IWAE-1000 |"),
    "variants": ({"bf16": ", bf16 products", "fp32 compiled": ", compiled",
                  "bf16 compiled": ", compiled, bf16 products"},
                 {"bf16": ", productos en bf16", "fp32 compiled": ", compilado",
                  "bf16 compiled": ", compilado, productos en bf16"}),
    "against": ("{} ({}), `{}`: this commit's steps and another's, their runs alternated in one run "
                "(medians of each's runs):",
                "{} ({}), `{}`: los pasos de este commit y los de otro, sus ejecuciones alternadas en una sola "
                "(medianas de las de cada uno):"),
    "jobs": ("{} ({}): two VAE replicates of {} iterations took {:.1f} s with `--jobs 2` ({} thread each) and "
             "{:.1f} s with `--jobs 1`, a ratio of {:.2f}, start-up and evaluation included.",
             "{} ({}): dos réplicas del VAE de {} iteraciones tardaron {:.1f} s con `--jobs 2` ({} hilo cada una) y "
             "{:.1f} s con `--jobs 1`, una razón de {:.2f}, arranque y evaluación incluidos."),
    "speed": ("| CPU or GPU, threads | date | model | variant | it/s | compiled / eager | compilation "
              "| late it/s, at iteration | training | evaluation | the process's peak RSS so far |",
              "| CPU o GPU, hilos | fecha | modelo | variante | it/s | compilado / eager | compilación "
              "| it/s tarde, en la iteración | entrenamiento | evaluación | RSS máximo del proceso hasta ahí |"),
    "commands": ("| command | prints | training, minutes | with `--compile` |",
                 "| comando | imprime | entrenamiento, minutos | con `--compile` |"),
    "beyond": ("| model | command | seeds | all 10000 test images: NELBO | IWAE-100 | active dimensions |",
               "| modelo | comando | semillas | las 10000 imágenes de test: NELBO | IWAE-100 | dimensiones activas |"),
    "projected": ("Training minutes projected by one benchmark record, on {where} threads, {date} (`{command}`):",
                  "Minutos de entrenamiento proyectados por un registro del benchmark, en {where} hilos, {date} "
                  "(`{command}`):"),
    "validation": ("validation / test accuracy", "exactitud en validación / en test"),
    "profile": ("| CPU, threads | model | precision | operators per step | of which matrix products |",
                "| CPU, hilos | modelo | precisión | operadores por paso | de ellos, productos de matrices |"),
    "variant": ("| model | seeds, in both | metric | fp32 | variant | variant - fp32, seed by seed |",
                "| modelo | semillas, en ambas | métrica | fp32 | variante | variante - fp32, semilla a semilla |"),
}


def _word(key, lang):
    return WORDS[key][lang == "es"]


def configurations(groups, lang):
    """[(label, group)]: the README's configurations, each model's published ones in the order it
    declares them: the course's float32 eager ones, then the other variants; a group with fewer
    seeds than its commands ask for (--runs N), or that counts a record made with uncommitted changes,
    is left out."""
    rows = []
    for variant in VARIANTS:
        for cls in models.ALL:
            for p in cls.published:
                for g in groups:
                    if (g["model"] == cls.__name__ and g["variant"] == variant and published(g) == p
                            and g["n"] >= records.asked(g) and not g["dirty"]):
                        rows.append((p.label[lang == "es"] + _word("variants", lang).get(variant, ""), g))
    return rows


def blocks(groups, benches, lang="en"):
    """The README's measured tables, made from the records: {block name: Markdown}.

    groups: records.aggregate(...) of the published records; benches: the benchmark's records
    (load_benches); lang: "en" or "es". "results" and "outliers" hold the float32 eager rows (the
    READMEs'), "variant_results" and "variant_outliers" the other variants' (docs/performance.md's).
    """
    shown = configurations(groups, lang)
    fp32 = [(label, g) for label, g in shown if g["variant"] == "fp32"]
    others = [(label, g) for label, g in shown if g["variant"] != "fp32"]
    made = {"results": "\n".join(result_rows(fp32, lang)), "outliers": outliers(fp32, lang),
            "variant_results": "\n".join(result_rows(others, lang)), "variant_outliers": outliers(others, lang)}
    for (_, argument), found in sweeps(groups).items():
        made[argument] = "\n".join(sweep_rows(found, _word("sweep", lang).format(argument)))
    made["variants"] = "\n".join([_word("variant", lang), "| --- | --- | --- | --- | --- | --- |"]
                                 + variant_rows(groups, lang))
    made["speed"] = "\n".join(speed_rows(benches, lang))
    made["commands"] = "\n".join(command_rows(groups, benches, lang))
    made["beyond"] = "\n".join(beyond_rows(groups, lang))
    return made


def result_rows(shown, lang):
    """The results table of the configurations `shown` ([(label, group)]): each metric's mean ± SE
    over seeds beside the course's value, and an accuracy's range over seeds."""
    rows = [_word("header", lang), "| --- | --- | --- | --- | --- | --- |"]
    for label, g in shown:
        cells = [label, "; ".join(f"`{c}`" for c in g["commands"]), str(g["n"])]
        for i, (metric, keys) in enumerate(_readme_metrics(g, lang)):
            means = [g["metrics"][k] for k in keys]
            measured = " / ".join(fmt(m, se, digits(k)) + (_range(g["values"][k], digits(k)) if k.startswith("accuracy")
                                                           else "") for (m, se), k in zip(means, keys, strict=True))
            expected = [course(g).get(k) for k in keys]
            course_cell = " / ".join(f"{e[0]} ± {e[1]}" for e in expected) if all(expected) else "–"
            rows.append("| " + " | ".join((cells if i == 0 else ["", "", ""]) + [metric, measured, course_cell]) + " |")
    return rows


def _range(values, d):
    """' (lowest to highest)' of a metric's values over seeds"""
    return f" ({min(values):.{d}f}–{max(values):.{d}f})" if len(values) > 1 else ""


def outliers(shown, lang):
    """The sentence saying which means, and which single seeds, of the configurations `shown` lie
    outside the course's tolerance."""
    means, seeds = {}, []
    for label, g in shown:
        outside = {}
        for k, (value, tolerance) in course(g).items():
            for seed, v in zip(g["seeds"], g["values"][k], strict=True):
                if abs(v - value) > tolerance:
                    outside.setdefault(seed, []).append(k)
            if abs(g["metrics"][k][0] - value) > tolerance:
                means.setdefault(label, []).append(k)
        seeds += [_word("seed", lang).format(label, seed, ", ".join(ks)) for seed, ks in sorted(outside.items())]
    said = (_word("outside", lang).format("; ".join(f"{label}: {', '.join(ks)}" for label, ks in means.items()))
            if means else _word("inside", lang))
    return said + (" " + _word("seeds", lang).format("; ".join(seeds)) if seeds else "")


def beyond_rows(groups, lang):
    """A row per published float32 configuration bounded on all 10000 test images: both bounds
    with their standard errors over seeds and the active latent dimensions where recorded (no
    minutes: the rows' seeds ran on several CPUs; the commands table projects one record's)."""
    rows = [_word("beyond", lang), "| --- | --- | --- | --- | --- | --- |"]
    for label, g in configurations(groups, lang):
        if g["variant"] == "fp32" and "full/IWAE-100" in g["metrics"]:
            nelbo, iwae = (fmt(*g["metrics"][k]) for k in ("full/NELBO", "full/IWAE-100"))
            active = fmt(*g["metrics"]["active"], 1) if "active" in g["metrics"] else "–"
            rows.append(f"| {label} | `{_command(g)}` | {g['n']} | {nelbo} | {iwae} | {active} |")
    return rows


def command_rows(groups, benches, lang):
    """A line naming the benchmark record the table comes from, then a row per published float32
    configuration: one replicate's command, what it prints, and the training minutes the record's
    rates project over the model's default iterations, eager and compiled, where the configuration
    is the model's default one (the benchmark times that one). One record, so one CPU and one run:
    the one that timed the most models, the newest of those (a model it did not time gets –)."""
    b = _commands_bench(benches)
    rows = ([_word("projected", lang).format(where=_where(b), date=b["date"][:10], command=b["command"]), ""]
            if b else []) + [_word("commands", lang), "| --- | --- | --- | --- |"]
    for _, g in configurations(groups, lang):
        if g["variant"] != "fp32":
            continue
        cls = models.by_name(g["model"])
        default = g["config"] == _default_config(cls)
        rates = {records.variant(r): r["rate"] for r in (b["rows"] if b and default else [])
                 if r["model"] == bench.name(cls)}
        minutes = [_minutes(cls.iterations / rates[v] / 60) if v in rates else "–" for v in ("fp32", "fp32 compiled")]
        prints = "; ".join(label for label, _ in _readme_metrics(g, lang))
        rows.append(f"| `{_command(g)}` | {prints} | {minutes[0]} | {minutes[1]} |")
    return rows


def _default_config(cls):
    """The config of the model its run script builds with no flags: the constructor's defaults,
    then configuration()'s"""
    config = {name: p.default for name, p in inspect.signature(cls).parameters.items()}
    return {**config, **cls.configuration(flags.parser(cls).parse_args([]))}


def _commands_bench(benches):
    """The benchmark record whose float32 eager rows time the most models, the newest of those; or None"""
    timed = [(len({r["model"] for r in b["rows"] if records.variant(r) == "fp32"}), b["date"], b) for b in benches]
    return max(timed, key=lambda t: t[:2], default=(0, "", None))[2]


def _beside(shown, g, variant):
    """The group of configurations(...) `shown` that holds g's model and configuration in `variant`, or None"""
    return next((h for _, h in shown
                 if h["variant"] == variant and h["model"] == g["model"] and h["config"] == g["config"]),
                None)


def _minutes(m):
    """Minutes as the commands table gives them: 1.4, 28"""
    return f"{m:.1f}" if m < 10 else f"{m:.0f}"


def _command(g):
    """One replicate's command of a group: its records' repeat command less --run and --threads"""
    return re.sub(r" --run \d+| --threads \d+", "", g["repeat"])


def variant_rows(groups, lang):
    """A row per published configuration run in another variant than the course's float32 eager
    one, beside that one, over the seeds run in both. Their speeds compare in the benchmark's
    records, where both sides ran on one machine in one run."""
    rows = []
    shown = configurations(groups, lang)
    for label, low in shown:
        g = _beside(shown, low, "fp32")
        if low["variant"] != "fp32" and g:
            key = models.by_name(g["model"]).headline
            d = digits(key)
            seeds = [s for s in low["seeds"] if s in g["seeds"]]
            a, b = (records.by_seed(h, h["values"][key], seeds) for h in (g, low))
            rows.append(f"| {label} | {', '.join(map(str, seeds))} | {key} | {fmt(*mean_se(a), d)} | "
                        f"{fmt(*mean_se(b), d)} | {fmt(*mean_se([y - x for x, y in zip(a, b, strict=True)]), d)} |")
    return rows


def _timed(row):
    """A benchmark row's model, with the run-script flags of the configuration it timed, if any"""
    return " ".join(filter(None, (row["model"], row.get("flags") and f"`{row['flags']}`")))


def speed_rows(benches, lang):
    """The benchmark records' figures: the speed table, the profile table, the --jobs timing."""
    speed = [_word("speed", lang), "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for b in benches:
        for r in b["rows"]:
            compiled = r.get("compile")
            speed.append(f"| {_where(b)} | {b['date'][:10]} | {_timed(r)} | {records.variant(r)} | {r['rate']:.1f} | "
                         + (f"{r['speedup']:.2f} | {r['compile_seconds']:.0f} s | " if compiled else "– | – | ")
                         + (f"{r['late_rate']:.1f} at {r['late_iteration']}" if r["late_rate"] else "–")
                         + f" | {r['train_minutes']:.1f} min ({r['iterations']} it.) | {r['eval_seconds']:.1f} s | "
                         f"{r['peak_rss_mb']:.0f} MB |")
    profiled = [(b, r) for b in benches for r in b["rows"] if "ops_ms" in r]
    if profiled:
        speed += ["", _word("profile", lang), "| --- | --- | --- | --- | --- |"]
        speed += [f"| {_where(b)} | {_timed(r)} | "
                  f"{r['precision']} | {r['ops_ms']:.2f} ms | {r['products_ms']:.2f} ms |" for b, r in profiled]
    for b in benches:
        if b.get("against"):  # another commit's steps, timed in the same run
            speed += ["", _word("against", lang).format(b["cpu"], b["date"][:10], b["command"]), ""]
            speed += [f"- {line}"
                      for line in against.compared(b["rows"], b["against"]["runs"], b["against"]["commit"][:7])]
    for b in benches:
        if b.get("jobs"):
            j = b["jobs"]
            speed.append("")
            speed.append(_word("jobs", lang).format(b["cpu"], b["date"][:10], j["iterations"], j["seconds_jobs_2"],
                                                    j["threads"], j["seconds_jobs_1"], j["ratio"]))
    return speed


def _where(bench):
    """What a benchmark record ran on: 'CPU model, threads' or 'GPU, threads'."""
    return f"{bench['cpu'] if bench['device'] == 'cpu' else bench['device']}, {bench['threads']}"


def _readme_metrics(g, lang):
    """[(metric label, metric keys)] of a configuration's rows in the README's table: the bounds'
    or the accuracy's rows where it has those metrics, else its headline metric."""
    accuracy = ((_word("validation", lang), ["accuracy_validation", "accuracy"])
                if "accuracy_validation" in g["metrics"] else (_word("accuracy", lang), ["accuracy"]))
    rows = [accuracy, ("NELBO / KL / Rec", ["NELBO", "KL", "Rec"]),
            ("IWAE-1 / 10 / 100 / 1000", ["IWAE-1", "IWAE-10", "IWAE-100", "IWAE-1000"]),
            (f"{_word('all', lang)}: NELBO / IWAE-100", ["full/NELBO", "full/IWAE-100"])]
    found = [(label, keys) for label, keys in rows if all(k in g["metrics"] for k in keys)]
    key = models.by_name(g["model"]).headline
    return found or [(key, [key])]


def load_benches(folder):
    """The benchmark's records, folder/bench*.json, made from a committed tree ("dirty": false: no
    published figure rests on another), oldest first."""
    benches = []
    for path in sorted(glob.glob(os.path.join(folder, "bench*.json"))):
        with open(path) as f:
            benches.append(json.load(f))
    return sorted((b for b in benches if b.get("dirty") is False), key=lambda b: b["date"])


def fill(text, blocks):
    """text with each <!-- name --> ... <!-- /name --> span's inside replaced by blocks[name]."""
    for name, block in blocks.items():
        text = re.sub(rf"(<!-- {name} -->\n)(?:.*?\n)?(<!-- /{name} -->)",
                      lambda m, block=block: f"{m[1]}{block}\n{m[2]}", text, flags=re.S)
    return text
