"""The run records of a copy (logs/<run>/metrics.json) or of the reference (results/<run>/...):
reading them without trusting them, picking the course's runs, checking a sample grid's size.
Read by the student's pack command (what is missing) and by the grader (the run items)."""
import glob
import inspect
import json
import math
import os
import statistics

FOLDERS = ("logs", "results")  # a student's runs, then the reference's published ones
ROWS, COLS, DIGIT = 10, 20, 28  # the handout's grid of 200 digits


def load(root):
    """[(record, its folder)] of root's logs/*/metrics.json and results/*/metrics.json that hold a
    model, a configuration, iterations and numeric metrics; the same run found twice counts once
    (logs first). Returns (records, [why a file was skipped])."""
    found, skipped, seen = [], [], set()
    for folder in FOLDERS:
        for path in sorted(glob.glob(os.path.join(root, folder, "*", "metrics.json"))):
            try:
                with open(path, encoding="utf-8") as f:
                    r = json.load(f)
                ok = (isinstance(r, dict) and isinstance(r.get("model"), str) and isinstance(r.get("config"), dict)
                      and isinstance(r.get("iterations"), int) and isinstance(r.get("metrics"), dict))
            except (OSError, ValueError):
                ok = False
            if not ok:
                skipped.append(f"{os.path.relpath(path, root)} is not a run record")
                continue
            key = json.dumps([r["model"], r["config"], r.get("seed"), variant(r), r["iterations"]], sort_keys=True)
            if key not in seen:
                seen.add(key)
                found.append((r, os.path.dirname(path)))
    return found, skipped


def variant(record):
    """"fp32" (the course's), "bf16", "fp32 compiled" or "bf16 compiled"."""
    return (record.get("precision") or "fp32") + (" compiled" if record.get("compile") else "")


def course_config(cls, index):
    """The full configuration of cls.published[index]: the constructor's defaults updated by it."""
    defaults = {k: p.default for k, p in inspect.signature(cls).parameters.items()}
    return {**defaults, **cls.published[index].config}


def select(records, cls, index):
    """The records of the course's run of cls.published[index] (its configuration, float32, not
    compiled, cls.iterations). Returns (records, why others of that configuration were left out)."""
    config, chosen, near = course_config(cls, index), [], set()
    for r, d in records:
        if r["model"] != cls.__name__ or r["config"] != config:
            continue
        if variant(r) != "fp32":
            near.add(f"{variant(r)} runs are not the course's (train without --precision/--compile)")
        elif r["iterations"] != cls.iterations:
            near.add(f"a run of {r['iterations']} iterations is not the course's {cls.iterations}")
        else:
            chosen.append((r, d))
    return chosen, sorted(near)


def metric(records, name):
    """(mean, standard error or nan, n) of a metric over records; None when one lacks it or it is not a number."""
    values = [r["metrics"].get(name) for r, _ in records]
    if not values or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
        return None
    n = len(values)
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(n) if n > 1 else math.nan, n


def grid_size():
    """(width, height) of the sample grid: ROWS x COLS digits with torchvision make_grid's padding."""
    from torchvision.utils import make_grid
    pad = inspect.signature(make_grid).parameters["padding"].default
    return COLS * (DIGIT + pad) + pad, ROWS * (DIGIT + pad) + pad


def check_grid(path):
    """None when path is a PNG of the sample grid's size, else why not (one line)."""
    from PIL import Image
    if not os.path.isfile(path):
        return "no samples.png"
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            size, kind = im.size, im.format
    except Exception as e:
        return f"samples.png is not a readable image ({type(e).__name__})"
    want = grid_size()
    if kind != "PNG" or size != want:
        return (f"samples.png is a {kind} of {size[0]} x {size[1]} pixels, not the {ROWS} x {COLS} grid's "
                f"{want[0]} x {want[1]}")
    return None
