"""The autograder: every item's points and one line why, then the total.

Code items: each function runs in a child process against the reference (sandbox.py) and its
outputs are judged here (verify.judge), against values computed here (cases.graded); run,
picture and person items read the submission's run records (runs.py). Grading completes
whatever the submission does: a failure costs its function's or item's points, never the grading.
"""
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

from codebase import files
from codebase.kit import cases, items, runs, sandbox, verify

_TORCH = threading.Lock()  # the cases are drawn with torch's global seed: one thread at a time


class Result(NamedTuple):
    """One item's grade: score of points (points graded by a person: automatic False, score 0)."""

    item: items.Item
    score: float
    line: str
    automatic: bool = True


def _n(x):
    return f"{x:g}"


def part(item, p, submission, timeout=sandbox.TIMEOUT):
    """(score, line) of one function: its share of the item's points in proportion to the cases
    it passes (floored to a quarter point). Its outputs come from a child process that ran it;
    the judging is this process's, against values it computed itself. A failed public case says
    why; a failed hidden case says only its number."""
    with _TORCH:
        graded = cases.graded(p.function)
    answers, whole = sandbox.run(p, submission, [c for c, _ in graded], timeout)
    if not answers:
        return 0.0, whole
    passed, first, hidden = 0, None, 0
    for k, (case, public) in enumerate(graded):
        hidden += not public
        answer = answers[k] if k < len(answers) else whole
        why = answer if isinstance(answer, str) else _judged(case, answer)
        passed += why is None
        if why is not None and first is None:
            first = f"public case '{case['name']}': {why}" if public else f"hidden case {hidden} failed"
    score = math.floor(4 * p.points * passed / len(graded)) / 4
    return score, f"{passed}/{len(graded)} cases" + (f", {first}" if first else "")


def _judged(case, answer):
    """None when the outputs pass the case, else why not (one line)."""
    try:
        verify.judge(case, answer)
    except verify.Failed as e:
        return sandbox.one_line(e)
    except Exception as e:  # outputs of a form the judge did not foresee fail; they never pass
        return f"outputs that could not be judged ({type(e).__name__})"
    return None


def _guarded(grader, item, *args):
    """grader(item, *args), or 0 points and one line when it fails unexpectedly: grading goes on."""
    try:
        return grader(item, *args)
    except Exception as e:
        return (0.0, _failed(e)) if grader is part else Result(item, 0, _failed(e))


def _failed(e):
    return f"the grader failed here ({type(e).__name__}: {sandbox.one_line(e, 80)}); please report it"


def code(item, functions):
    """The item's Result from {function: (score, line)} of its parts."""
    score = sum(functions[p.function][0] for p in item.parts)
    return Result(item, score, "; ".join(f"{p.function}: {functions[p.function][1]}" for p in item.parts))


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
    """All the points when a course run's samples.png is a PNG of the 10 x 20 grid's size, not blank."""
    cls = _model(item.run.model)
    chosen, near = runs.select(records, cls, item.run.published)
    if not chosen:
        return Result(item, 0, _missing(item, cls, near, skipped))
    whys = [(runs.check_grid(os.path.join(d, "samples.png")), d) for _, d in chosen]
    good = next((d for why, d in whys if why is None), None)
    if good:
        w, h = runs.grid_size()
        return Result(item, item.points,
                      f"{os.path.basename(good)}/samples.png: a PNG of a {runs.ROWS} x {runs.COLS} grid's size "
                      f"({w} x {h}), not blank")
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
    """[Result] of every item, in the handout's order. The functions of the code items are run side
    by side (each in its own child process); an unexpected failure costs one item or function."""
    with ThreadPoolExecutor(max_workers=jobs or min(4, os.cpu_count() or 1)) as pool:
        started = {(i.number, p.function): pool.submit(_guarded, part, i, p, submission, timeout)
                   for i in items.CODE for p in i.parts}
        try:
            records, skipped = runs.load(submission)
        except Exception as e:
            records, skipped = [], [_failed(e)]
        out = []
        for item in items.ITEMS:
            if item.kind == "code":
                out.append(code(item, {p.function: started[item.number, p.function].result() for p in item.parts}))
            else:
                grader = {"run": run, "picture": picture, "person": person}[item.kind]
                out.append(_guarded(grader, item, records, submission if item.kind == "person" else skipped))
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
        out.append(f"{r.item.number:4} {earned:>8}  {sandbox.one_line(r.line, 2000)}")
    return out + [total(results)]


def gradescope(results):
    """Gradescope's results.json: one test per item (a person's item worth 0 here: its points are
    a manual question's), the score the sum of the tests'."""
    tests = [{"name": f"{r.item.number} {r.item.title[0]}", "score": r.score,
              "max_score": r.item.points if r.automatic else 0, "output": sandbox.one_line(r.line, 2000),
              "visibility": "visible"}
             for r in results]
    return {"score": sum(t["score"] for t in tests), "output": total(results), "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests}


def write_gradescope(results, path):
    """Write results.json to path (replacing it: on Gradescope the file is the autograder's own)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    files.write_json(path, gradescope(results))
