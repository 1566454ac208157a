"""The student's starter, generated from this reference (never kept by hand):

- the course's modules: the import closure of the three run scripts, the models beyond the course
  left out (a module of the closure that imports one gets a course-only version, splice.course_only);
- in them, each function of a code item keeps its signature and docstring, and its body becomes
  one line that raises ToDo with the item's number (splice.stub); so does each of items.LEFT_OUT;
- the three run scripts, requirements.txt, the student's READMEs and ANSWERS.md (texts.py);
- the student's kit (STUDENT_KIT) and the public cases with the reference's outputs as JSON.
"""
import ast
import json
import os
import shutil
import tempfile

from codebase import UserError
from codebase.kit import cases, items, splice, texts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = ("run_vae.py", "run_gmvae.py", "run_ssvae.py")
STUDENT_KIT = ("__init__.py", "items.py", "verify.py", "runs.py", "check.py", "submit.py")
CASES = "codebase/kit/cases.json"
TODO = "from codebase.kit import ToDo"


def _path(module):
    return module.replace(".", "/") + ".py"


def imports(root, path):
    """The codebase modules a file imports, anywhere in it (a function's own imports too)."""
    with open(os.path.join(root, path), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "codebase":
            found |= {f"codebase.{a.name}" for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("codebase."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("codebase.")}
    return {m for m in found if os.path.isfile(os.path.join(root, _path(m)))}


def beyond_course():
    """The modules of the models beyond the course: those of models.ALL whose run script is not one of SCRIPTS."""
    from codebase import models
    return {cls.__module__ for cls in models.ALL if cls.script not in SCRIPTS}


def closure(root=ROOT, beyond=None):
    """The course's modules: ["codebase/__init__.py", ...] that the run scripts import, directly or
    not, never entering a module of `beyond`."""
    beyond = beyond_course() if beyond is None else beyond
    seen, todo = set(), list(SCRIPTS)
    while todo:
        for module in imports(root, todo.pop()) - seen - beyond:
            seen.add(module)
            todo.append(_path(module))
    return ["codebase/__init__.py"] + sorted(_path(m) for m in seen)


def stubs(path):
    """[(qualname, one-line stub)] of the item functions and the left-out ones (items.LEFT_OUT) in the file `path`."""
    return ([(p.function, f'raise ToDo("{item.number}", "{p.function}")')
             for item in items.CODE for p in item.parts if p.file == path]
            + [(p.function, f'raise ToDo(None, "{p.function}")') for p in items.LEFT_OUT if p.file == path])


def stubbed(source, path):
    """The file with its item functions stubbed and ToDo imported (in the codebase imports' block,
    or in a block of its own)."""
    tree = ast.parse(source)
    last = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))][-1]
    ours = isinstance(last, ast.ImportFrom) and (last.module or "").startswith("codebase")
    return splice.stub(source, stubs(path), TODO if ours else "\n" + TODO, path)


def public_cases():
    """The public cases, each with the reference's outputs as its expected values."""
    from codebase import gmvae, ssvae, utils, vae
    modules = dict(utils=utils, vae=vae, gmvae=gmvae, ssvae=ssvae)
    out = []
    for spec in cases.specs(public=True):
        case = cases.materialize(spec, modules)
        case["expected"] = cases.expected(case, modules, "reference")
        out.append(case)
    return out


def _write(dest, path, text):
    target = os.path.join(dest, path)
    os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    with open(target, "w", encoding="utf-8") as f:
        f.write(text)


def _read(root, path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return f.read()


def make(dest, root=ROOT):
    """Write the starter into dest, a new or empty folder. Returns the files written (relative paths)."""
    if os.path.exists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        raise UserError(f"{dest} exists and is not empty; name a new folder (the starter never writes over one)")
    beyond = beyond_course()
    files = {}
    for path in closure(root, beyond):
        text = splice.course_only(_read(root, path), beyond, path)
        files[path] = stubbed(text, path) if stubs(path) else text
    for name in SCRIPTS + ("requirements.txt",):
        files[name] = _read(root, name)
    for name in STUDENT_KIT:
        files[f"codebase/kit/{name}"] = _read(root, f"codebase/kit/{name}")
    files[CASES] = json.dumps(public_cases())
    files.update({"README.md": texts.readme("en"), "README.es.md": texts.readme("es"), "ANSWERS.md": texts.answers(),
                  ".gitignore": "__pycache__/\n/data\n/checkpoints\n/submission.zip\n"})
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent, prefix=".starter-") as scratch:
        for path, text in files.items():
            _write(scratch, path, text)
        if os.path.isdir(dest):
            os.rmdir(dest)  # empty, checked above
        shutil.copytree(scratch, dest)
    return sorted(files)
