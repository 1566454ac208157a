"""Pack what to hand in into a zip:

    python -m codebase.kit.submit                  # writes submission.zip
    python -m codebase.kit.submit --out me.zip --force

It holds the item files (items.FILES), every run's logs/<run>/metrics.json and samples.png, and
ANSWERS.md; it warns about what is still missing (a stub left, a course run not made) and never
replaces an existing zip without --force.
"""
import argparse
import ast
import glob
import io
import os
import sys
import zipfile

from codebase import files
from codebase.kit import items, runs


def contents(root="."):
    """The files to hand in, relative to root, that exist."""
    found = [f for f in (*items.FILES, "ANSWERS.md") if os.path.isfile(os.path.join(root, f))]
    for pattern in ("logs/*/metrics.json", "logs/*/samples.png"):
        found += sorted(os.path.relpath(p, root) for p in glob.glob(os.path.join(root, pattern)))
    return found


def _stubbed(path, function):
    """Whether the function's body still raises ToDo (the starter's stub)."""
    try:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError):
        return False
    *classes, name = function.split(".")
    scope = tree.body
    for cls in classes:
        scope = next((n.body for n in scope if isinstance(n, ast.ClassDef) and n.name == cls), [])
    node = next((n for n in scope if isinstance(n, ast.FunctionDef) and n.name == name), None)
    return node is not None and any(isinstance(n, ast.Name) and n.id == "ToDo" for n in ast.walk(node))


def warnings(root="."):
    """What is still missing, one line each."""
    out = []
    for item in items.CODE:
        for part in item.parts:
            path = os.path.join(root, part.file)
            if not os.path.isfile(path):
                out.append(f"item {item.number}: {part.file} is missing")
            elif _stubbed(path, part.function):
                out.append(f"item {item.number}: {part.function} still raises ToDo")
    records, _ = runs.load(root)
    try:
        from codebase import gmvae, ssvae, vae
    except Exception as e:
        return out + [f"cannot check the runs: importing the models raised {type(e).__name__}"]
    models = {"VAE": vae.VAE, "GMVAE": gmvae.GMVAE, "SSVAE": ssvae.SSVAE}
    for item in items.ITEMS:
        if item.kind in ("run", "picture"):
            cls = models[item.run.model]
            chosen, _ = runs.select(records, cls, item.run.published)
            if not chosen:
                config = ", ".join(f"{k}={v}" for k, v in cls.published[item.run.published].config.items())
                out.append(f"item {item.number}: no record of {cls.script}'s course run ({config}) "
                           f"with {cls.iterations} iterations in logs/")
            elif item.kind == "picture" and all(runs.check_grid(os.path.join(d, "samples.png")) for _, d in chosen):
                out.append(f"item {item.number}: no samples.png of the course run in logs/")
    if not any(r["model"] == "VAE" and r["config"].get("beta") != 1 for r, _ in records):
        out.append("item 1.5: no run with --beta other than 1 in logs/")
    if not os.path.isfile(os.path.join(root, "ANSWERS.md")):
        out.append("ANSWERS.md is missing")
    return out


def pack(out, root=".", force=False):
    """Write the zip; returns the files packed. Raises FileExistsError when out exists and not force."""
    if os.path.exists(out) and not force:
        raise FileExistsError(out)
    packed, buffer = contents(root), io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for f in packed:
            z.write(os.path.join(root, f), f)
    files.write(out, buffer.getvalue())  # whole or not at all
    return packed


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m codebase.kit.submit", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="submission.zip", help="the zip to write (default: submission.zip)")
    p.add_argument("--force", action="store_true", help="replace the zip if it exists")
    args = p.parse_args(argv)
    try:
        packed = pack(args.out, force=args.force)
    except FileExistsError:
        print(f"error: {args.out} exists; pass --force to replace it, or --out another name", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: cannot write {args.out}: {e.strerror}; run from your copy's folder", file=sys.stderr)
        return 1
    for line in warnings():
        print(f"warning: {line}", file=sys.stderr)
    print(f"wrote {args.out} ({len(packed)} files); upload it to Gradescope")
    return 0


if __name__ == "__main__":
    sys.exit(main())
