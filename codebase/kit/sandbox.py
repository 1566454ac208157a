"""Run a submission's functions, one item at a time, in a child process with a time limit.

For each function of the item, a temporary copy of the reference's codebase/ gets that function
from the submission spliced in (splice.splice: with the helpers and imports it adds), and nothing
else of the submission: a bug is charged to the function that has it, never to one that calls it.
One child (child.py) runs the item's parts; the parent keeps only results it can check: every
function and case it expects, each answered once with a bool.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from codebase.kit import cases, items, splice

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 60  # seconds per item: the cases take a few seconds; an endless loop takes this


def _source(root, path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return f.read()


def prepare(item, submission, scratch):
    """Spliced copies, one per function of `item`, under scratch. Returns ({function: root of its
    copy}, {function: why it cannot be run}): a missing file, a file that does not parse, a
    missing function."""
    roots, errors = {}, {}
    for k, part in enumerate(item.parts):
        if not os.path.isfile(os.path.join(submission, part.file)):
            errors[part.function] = f"{part.file} is missing from the submission"
            continue
        try:
            text = splice.splice(_source(ROOT, part.file), _source(submission, part.file), [part.function], part.file)
        except (splice.SpliceError, UnicodeDecodeError, ValueError) as e:
            errors[part.function] = str(e).splitlines()[0] if str(e) else type(e).__name__
            continue
        root = os.path.join(scratch, f"part{k}")
        shutil.copytree(os.path.join(ROOT, "codebase"), os.path.join(root, "codebase"),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        with open(os.path.join(root, part.file), "w", encoding="utf-8") as f:
            f.write(text)
        roots[part.function] = root
    return roots, errors


def _run_child(item, roots, scratch, timeout):
    """Returns (results or None, why none)."""
    spec, out = os.path.join(scratch, "spec.json"), os.path.join(scratch, "out.json")
    with open(spec, "w") as f:
        json.dump({"item": item.number, "parts": [{"function": fn, "dir": d} for fn, d in roots.items()]}, f)
    env = dict(os.environ, PYTHONPATH=next(iter(roots.values())), OMP_NUM_THREADS="1")
    child = subprocess.Popen([sys.executable, "-m", "codebase.kit.child", spec, out], cwd=scratch, env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        status = child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return None, f"timed out after {timeout} s (an endless loop?)"
    if status != 0 or not os.path.isfile(out):
        return None, f"the code ended the grading process (exit status {status}: os._exit, or a crash)"
    try:
        with open(out) as f:
            return json.load(f), None
    except (OSError, ValueError):
        return None, "the grading process left unreadable results"


def _valid(results, expected):
    """{function: [(name, ok, why)]} when results answer exactly the expected {function: [case name]}."""
    try:
        got = {p["function"]: [(c["name"], c["ok"], c["why"]) for c in p["cases"]] for p in results["parts"]}
    except (TypeError, KeyError):
        return None
    for function, names in expected.items():
        rows = got.get(function)
        if rows is None or [r[0] for r in rows] != names or not all(
                isinstance(ok, bool) and isinstance(why, str) for _, ok, why in rows):
            return None
    return {f: got[f] for f in expected}


def run_item(number, submission, timeout=TIMEOUT):
    """Grade the code item `number` of the submission folder. Returns ({function: [(case, ok, why)]},
    {function: why it was not run}, why the whole item failed or None)."""
    item = items.BY_NUMBER[number]
    with tempfile.TemporaryDirectory(prefix=f"kit-{number}-") as scratch:
        roots, errors = prepare(item, submission, scratch)
        if not roots:
            return {}, errors, None
        results, why = _run_child(item, roots, scratch, timeout)
    if results is None:
        return {}, errors, why
    names = {f: n for f, n in cases.names(number).items() if f in roots}
    checked = _valid(results, names)
    if checked is None:
        return {}, errors, "the grading process reported malformed results (did the code write to its files?)"
    return checked, errors, None
