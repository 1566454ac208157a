"""Copies the kit's tests share, each made once per session (tests/test_kit*.py): a fresh starter,
and the round trip (the starter with its stubs filled back with the reference's functions and the
reference's course records under logs/)."""
import atexit
import functools
import json
import os
import shutil
import tempfile

from codebase.kit import items, splice, starter
from conftest import ROOT


@functools.cache
def scratch():
    folder = tempfile.mkdtemp(prefix="test-kit-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


@functools.cache
def fresh():
    """A starter made by the kit (read-only use: copy it before running anything in it)."""
    dest = os.path.join(scratch(), "starter")
    starter.make(dest)
    return dest


def copy(name):
    """A copy of the fresh starter to run things in."""
    dest = os.path.join(scratch(), name)
    shutil.copytree(fresh(), dest)
    return dest


def fill(copy_root, functions=None):
    """Splice the reference's functions (default: every item function) into a copy's stubs."""
    for path in items.FILES:
        chosen = [p.function for i in items.CODE for p in i.parts if p.file == path
                  and (functions is None or p.function in functions)]
        if not chosen:
            continue
        with open(os.path.join(ROOT, path)) as f:
            reference = f.read()
        target = os.path.join(copy_root, path)
        with open(target) as f:
            text = f.read()
        with open(target, "w") as f:
            f.write(splice.splice(text, reference, chosen, path))


def course_records(into):
    """Copy the reference's published records of the course's models (metrics.json, samples.png) into logs/."""
    for name in sorted(os.listdir(ROOT / "results")):
        source = ROOT / "results" / name / "metrics.json"
        if not source.is_file() or json.loads(source.read_text())["model"] not in ("VAE", "GMVAE", "SSVAE"):
            continue
        os.makedirs(os.path.join(into, "logs", name))
        for f in ("metrics.json", "samples.png"):
            if (ROOT / "results" / name / f).is_file():
                shutil.copy(ROOT / "results" / name / f, os.path.join(into, "logs", name, f))


@functools.cache
def round_trip():
    """The starter with every stub filled back and the course's records: a finished assignment."""
    dest = copy("round-trip")
    fill(dest)
    course_records(dest)
    return dest
