"""The autograder: every item's points and one line why, then the total.

Code items run in child processes against the reference (sandbox.py); run, picture and person
items read the submission's run records (runs.py). Grading completes whatever the submission
does: a failure costs its item's points, never the grading.
"""
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from codebase.kit import items, runs, sandbox


class Result(NamedTuple):
    """One item's grade: score of points (points graded by a person: automatic False, score 0)."""

    item: items.Item
    score: float
    line: str
    automatic: bool = True


def _n(x):
    return f"{x:g}"


def code(item, submission, timeout):
    """Each function's share of the points in proportion to the cases it passes (floored to 1/4)."""
    results, errors, whole = sandbox.run_item(item.number, submission, timeout)
    if whole:
        return Result(item, 0, whole)
    score, said = 0.0, []
    for part in item.parts:
        if part.function in errors:
            said.append(f"{part.function}: {errors[part.function]}")
            continue
        rows = results[part.function]
        passed = sum(ok for _, ok, _ in rows)
        score += math.floor(4 * part.points * passed / len(rows)) / 4
        first = next((why for _, ok, why in rows if not ok), None)
        said.append(f"{part.function}: {passed}/{len(rows)} cases" + (f", {first}" if first else ""))
    return Result(item, score, "; ".join(said))


def _model(name):
    from codebase import gmvae, ssvae, vae
    return {"VAE": vae.VAE, "GMVAE": gmvae.GMVAE, "SSVAE": ssvae.SSVAE}[name]


def _missing(item, cls, near, skipped):
    more = "; ".join(near + skipped[:2])
    config = ", ".join(f"{k}={v}" for k, v in cls.published[item.run.published].config.items())
    return (f"no record of {cls.script}'s course run ({config}, {cls.iterations} iterations) in logs/"
            + (f" ({more})" if more else ""))


def run(item, records, skipped):
    """Each metric's points when its mean over the course's runs is within the course's tolerance."""
    cls = _model(item.run.model)
    chosen, near = runs.select(records, cls, item.run.published)
    if not chosen:
        return Result(item, 0, _missing(item, cls, near, skipped))
    course, score, said = cls.published[item.run.published].course, 0.0, []
    for name, points in item.run.scores:
        if name == "runs":
            got = points if len(chosen) >= 2 else 0
            runs_said = f"{len(chosen)} run{'s' if len(chosen) > 1 else ''}"
            said.append(f"{runs_said} (2 or more for a standard error): {_n(got)}/{_n(points)}")
        else:
            value, tolerance = course[name]
            m = runs.metric(chosen, name)
            got = points if m and abs(m[0] - value) <= tolerance else 0
            shown = "missing" if m is None else f"{m[0]:.4g}" + ("" if math.isnan(m[1]) else f" ± {m[1]:.2g}")
            said.append(f"{name} {shown} (course {_n(value)} ± {_n(tolerance)}): {_n(got)}/{_n(points)}")
        score += got
    return Result(item, score, "; ".join(said))


def picture(item, records, skipped):
    """All the points when a course run's samples.png is the 10 x 20 grid of digits."""
    cls = _model(item.run.model)
    chosen, near = runs.select(records, cls, item.run.published)
    if not chosen:
        return Result(item, 0, _missing(item, cls, near, skipped))
    whys = [(runs.check_grid(os.path.join(d, "samples.png")), d) for _, d in chosen]
    good = next((d for why, d in whys if why is None), None)
    if good:
        w, h = runs.grid_size()
        return Result(item, item.points,
                      f"{os.path.basename(good)}/samples.png: a {runs.ROWS} x {runs.COLS} grid of digits ({w} x {h})")
    return Result(item, 0, f"{os.path.basename(whys[0][1])}: {whys[0][0]}")


def person(item, records, submission):
    """Graded by a person: the beta runs found and whether ANSWERS.md is there."""
    betas = sorted({r["config"].get("beta") for r, _ in records if r["model"] == item.run.model
                    and isinstance(r["config"].get("beta"), (int, float)) and r["config"].get("beta") != 1})
    found = (f"beta runs found: {', '.join(map(_n, betas))}" if betas
             else "no beta != 1 run found (python run_vae.py --beta 2 ...)")
    answers = _answers(os.path.join(submission, "ANSWERS.md"))
    return Result(item, 0, f"{_n(item.points)} points graded by a person; {found}; {answers}", automatic=False)


def _answers(path):
    from codebase.kit import texts
    if not os.path.exists(path):
        return "no ANSWERS.md"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return "no readable ANSWERS.md"
    return "ANSWERS.md is the blank template" if text.strip() == texts.answers().strip() else "ANSWERS.md filled in"


def grade(submission, timeout=sandbox.TIMEOUT, jobs=None):
    """[Result] of every item, in the handout's order."""
    with ThreadPoolExecutor(max_workers=jobs or min(4, os.cpu_count() or 1)) as pool:
        coded = {i.number: pool.submit(code, i, submission, timeout) for i in items.CODE}
        records, skipped = runs.load(submission)
        out = []
        for item in items.ITEMS:
            if item.kind == "code":
                out.append(coded[item.number].result())
            elif item.kind == "run":
                out.append(run(item, records, skipped))
            elif item.kind == "picture":
                out.append(picture(item, records, skipped))
            else:
                out.append(person(item, records, submission))
    return out


def total(results):
    """The total line: the automatic points, and those a person grades."""
    auto = [r for r in results if r.automatic]
    manual = [r for r in results if not r.automatic]
    line = (f"Total: {_n(sum(r.item.points for r in auto))} automatic points: "
            f"{_n(sum(r.score for r in auto))} of {_n(sum(r.item.points for r in auto))}")
    if manual:
        line += (f"; {_n(sum(r.item.points for r in manual))} points "
                 f"({', '.join(r.item.number for r in manual)}) graded by a person")
    return line


def lines(results):
    """The report: one line per item, then the total."""
    out = []
    for r in results:
        earned = f"{_n(r.score)}/{_n(r.item.points)}" if r.automatic else f"-/{_n(r.item.points)}"
        out.append(f"{r.item.number:4} {earned:>8}  {r.line}")
    return out + [total(results)]


def gradescope(results):
    """Gradescope's results.json: one test per item (a person's item worth 0 here: its points are
    a manual question's), the score the sum of the tests'."""
    tests = [{"name": f"{r.item.number} {r.item.title[0]}", "score": r.score,
              "max_score": r.item.points if r.automatic else 0, "output": r.line, "visibility": "visible"}
             for r in results]
    return {"score": sum(t["score"] for t in tests), "output": total(results), "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def write_gradescope(results, path):
    """Write results.json to path (replacing it: on Gradescope the file is the autograder's own)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(gradescope(results), f, indent=2)
