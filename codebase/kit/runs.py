"""The run records of a copy (logs/<run>/metrics.json) or of the reference (results/<run>/...):
reading them without trusting their form (each field's type checked), picking the course's runs,
checking a sample grid's size. The numbers themselves are taken as written: the grader does not
rerun a run. Read by the student's pack command (what is missing) and by the grader (the run
items). Variants and means with standard errors are codebase.records'."""
import glob
import inspect
import json
import math
import os

from codebase.records import mean_se, variant

FOLDERS = ("logs", "results")  # a student's runs, then the reference's published ones
ROWS, COLS, DIGIT = 10, 20, 28  # the handout's grid of 200 digits


FIELDS = (  # (field, what it must be, whether a record may lack it): checked one by one
    ("model", str, False), ("config", dict, False), ("iterations", int, False), ("metrics", dict, False),
    ("precision", str, True), ("compile", bool, True), ("seed", int, True))


def malformed(r):
    """None when r holds a run record's fields with their types, else which field does not (one phrase)."""
    if not isinstance(r, dict):
        return "not a JSON object"
    for field, kind, optional in FIELDS:
        if field not in r and optional:
            continue
        value = r.get(field)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            return f'its "{field}" is {"missing" if field not in r else type(value).__name__}, not {kind.__name__}'
    return None


def load(root):
    """[(record, its folder)] of root's logs/*/metrics.json and results/*/metrics.json whose fields
    (FIELDS) have their types; the same run found twice counts once (logs first). Returns
    (records, [why a file was skipped])."""
    found, skipped, seen = [], [], set()
    for folder in FOLDERS:
        for path in sorted(glob.glob(os.path.join(root, folder, "*", "metrics.json"))):
            try:
                with open(path, encoding="utf-8") as f:
                    r = json.load(f)
                why = malformed(r)
            except (OSError, ValueError, RecursionError):
                why = "not readable JSON"
            if why:
                skipped.append(f"{os.path.relpath(path, root)} is not a run record ({why})")
                continue
            key = json.dumps([r["model"], r["config"], r.get("seed"), variant(r), r["iterations"]], sort_keys=True)
            if key not in seen:
                seen.add(key)
                found.append((r, os.path.dirname(path)))
    return found, skipped


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
    if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                             for v in values):
        return None
    return (*mean_se(values), len(values))


def grid_size():
    """(width, height) of the sample grid: ROWS x COLS digits with torchvision make_grid's padding."""
    from torchvision.utils import make_grid
    pad = inspect.signature(make_grid).parameters["padding"].default
    return COLS * (DIGIT + pad) + pad, ROWS * (DIGIT + pad) + pad


def check_grid(path):
    """None when path is a PNG of the sample grid's size that is not blank, else why not (one line).
    Only its size and that it is not of one color are checked, not that it shows digits."""
    from PIL import Image
    if not os.path.isfile(path):
        return "no samples.png"
    try:
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            size, kind = im.size, im.format
            want = grid_size()
            blank = size == want and len(set(im.convert("L").getextrema())) == 1
    except Exception as e:
        return f"samples.png is not a readable image ({type(e).__name__})"
    if kind != "PNG" or size != want:
        return (f"samples.png is a {kind} of {size[0]} x {size[1]} pixels, not the {ROWS} x {COLS} grid's "
                f"{want[0]} x {want[1]}")
    return "samples.png is blank (one color)" if blank else None
