"""Run one submitted function on its cases' inputs in a child process with a time limit, and read
back what it returned without trusting it.

The function is spliced from the submission into a temporary copy of the reference's codebase/
(splice.splice: with the helpers and imports its file adds), and nothing else of the submission:
a bug is charged to the function that has it, never to one that calls it. One child per function
(child.py), so one function's crash or hang costs only that function. The copy holds the
reference's code and the child's part of the kit (CHILD_KIT), no case and no grader; the child
gets only its cases' inputs, a minimal environment, a memory limit and a limit on what it writes,
and its process group is killed when it ends. The judging is the parent's (grade.py, verify.judge).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from codebase.kit import child, splice

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 60  # seconds per function: its cases take a few seconds; an endless loop takes this
CHILD_KIT = ("__init__.py", "items.py", "verify.py", "child.py")  # codebase/kit/ as the copy holds it
LINE = 200  # characters of a reason, at most


def one_line(text, limit=LINE):
    """text as one line of at most `limit` characters: control characters (newlines) become spaces,
    so nothing a submission says can start a line of the report."""
    flat = "".join(c if c.isprintable() else " " for c in str(text))
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def _source(root, path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return f.read()


def prepare(part, submission, into):
    """A copy of the reference under `into` with the submission's part.function spliced in.
    Returns (the copy's root, None), or (None, why it cannot be run): a missing file, a file that
    does not parse, a missing function."""
    if not os.path.isfile(os.path.join(submission, part.file)):
        return None, f"{part.file} is missing from the submission"
    try:
        text = splice.splice(_source(ROOT, part.file), _source(submission, part.file), [part.function], part.file)
    except (splice.SpliceError, UnicodeDecodeError, ValueError, RecursionError, MemoryError) as e:
        return None, one_line(str(e).splitlines()[0] if str(e) else type(e).__name__)
    root = os.path.join(into, "copy")
    shutil.copytree(os.path.join(ROOT, "codebase"), os.path.join(root, "codebase"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "kit"))
    os.makedirs(os.path.join(root, "codebase", "kit"))
    for name in CHILD_KIT:
        shutil.copy(os.path.join(ROOT, "codebase", "kit", name), os.path.join(root, "codebase", "kit", name))
    with open(os.path.join(root, part.file), "w", encoding="utf-8") as f:
        f.write(text)
    return root, None


def child_env(root, home):
    """The child's whole environment: where Python and the copy are, a home of its own, one thread."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": root, "HOME": home,
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def _load(path, n):
    """The child's OUT, checked field by field: (import error or None, [outputs dict or why] of
    at most n cases). Raises ValueError when it is not what child.py writes."""
    import torch
    if os.path.getsize(path) > child.OUTPUT:
        raise ValueError("too large")
    done = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(done, dict) or not isinstance(done.get("cases"), list) or len(done["cases"]) > n:
        raise ValueError("not a list of cases")
    imported = done.get("import")
    if imported is not None and not isinstance(imported, str):
        raise ValueError("import")
    out = []
    for entry in done["cases"]:
        if isinstance(entry, dict) and isinstance(entry.get("error"), str):
            out.append(one_line(entry["error"]))
        elif isinstance(entry, dict) and isinstance(entry.get("outputs"), dict) and all(
                isinstance(k, str) and (v is None or isinstance(v, (str, torch.Tensor)))
                for k, v in entry["outputs"].items()):
            out.append(entry["outputs"])
        else:
            raise ValueError("a case")
    return imported and one_line(imported), out


def run(part, submission, inputs, timeout=TIMEOUT):
    """Run the submission's part.function on each case of `inputs` (cases without their expected
    values). Returns (answers, why): answers, one per case answered before the child ended, each
    {name: what it returned} or why it failed (one line); why, when not every case was answered
    (or None): not runnable, an import error, a time-out, an exit, unreadable outputs."""
    with tempfile.TemporaryDirectory(prefix="kit-part-") as scratch:
        root, why = prepare(part, submission, scratch)
        if root is None:
            return [], why
        work = os.path.join(scratch, "work")
        os.makedirs(work)
        spec, out = os.path.join(scratch, "spec.json"), os.path.join(work, "out.pt")
        with open(spec, "w") as f:
            json.dump({"cases": [{k: c[k] for k in ("kind", "function", "args")} for c in inputs]}, f)
        status, why = _start(spec, out, root, work, timeout), None
        try:
            imported, answers = _load(out, len(inputs)) if os.path.isfile(out) else (None, [])
        except Exception:  # whatever the file holds: it is not the child's answer
            imported, answers = None, []
            why = "the grading process left unreadable outputs (did the code write to its files?)"
    if imported:
        return [], imported
    if len(answers) < len(inputs):
        why = status or why or "the grading process ended before answering every case"
    return answers, why


def _start(spec, out, root, work, timeout):
    """Run the child to its end; None when it exited with 0, else why not (one line)."""
    process = subprocess.Popen([sys.executable, "-m", "codebase.kit.child", spec, out], cwd=work,
                               env=child_env(root, work), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        status = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:g} s (an endless loop?)"
    finally:  # what it started goes too, whether it ended or not
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait()
    if status != 0:
        return f"the code ended the grading process (exit status {status}: os._exit, or a crash)"
    return None
