"""Gradescope's autograder zip: the reference (codebase/ with the teacher's kit, requirements.txt)
and the two scripts Gradescope runs, setup.sh once when the image is built and run_autograder for
every submission (unpacked in /autograder/submission); the grade goes to
/autograder/results/results.json. No library: results.json is a small documented format."""
import io
import os
import zipfile

from codebase.files import write as write_whole
from codebase.kit import sandbox

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, building the autograder's image.
set -euo pipefail
apt-get update && apt-get install -y python3 python3-pip
pip3 install --extra-index-url https://download.pytorch.org/whl/cpu -r /autograder/source/requirements.txt
"""
RUN = """#!/usr/bin/env bash
# Gradescope runs this for every submission: grade it against the reference and write results.json.
cd /autograder/source
python3 -m codebase.kit grade /autograder/submission --gradescope /autograder/results/results.json
"""


def files(root=sandbox.ROOT):
    """[(path in the zip, path here)] of the reference the grader needs."""
    out = [("requirements.txt", os.path.join(root, "requirements.txt"))]
    for folder, dirs, names in os.walk(os.path.join(root, "codebase")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        out += [(os.path.relpath(os.path.join(folder, n), root), os.path.join(folder, n))
                for n in sorted(names) if n.endswith(".py")]
    return out


def write(path, force=False, root=sandbox.ROOT):
    """Write the autograder zip; raises FileExistsError when path exists and not force."""
    if os.path.exists(path) and not force:
        raise FileExistsError(path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in (("setup.sh", SETUP), ("run_autograder", RUN)):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # executable, as Gradescope runs them
            z.writestr(info, text)
        for arc, real in files(root):
            z.write(real, arc)
    write_whole(path, buffer.getvalue())
    return path
