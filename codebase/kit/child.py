"""The grader's child process: runs one item's cases against spliced copies of the reference.

    python -m codebase.kit.child SPEC OUT

SPEC (JSON): {"item": "1.2", "parts": [{"function": "VAE.kl", "dir": a spliced copy's root}, ...]}.
For each part, the copy's `codebase` is imported afresh (the previous part's modules forgotten),
its cases (codebase.kit.cases, public and hidden) drawn, judged by the independent references,
and the results written to OUT after every part: {"parts": [{"function", "cases": [{"name", "ok",
"why"}]}]}. The parent (sandbox.py) trusts none of it without checking; whatever the code under
test prints goes to the parent's /dev/null.
"""
import importlib
import json
import os
import sys

MODULES = ("utils", "vae", "gmvae", "ssvae")


def _why(e):
    """One line for an exception raised by the code under test."""
    if isinstance(e, SystemExit):
        return f"called sys.exit({e.code!r})"
    if type(e).__name__ == "ToDo":
        return "not implemented yet (the starter's stub raises ToDo)"
    text = str(e).strip().splitlines()
    return f"raised {type(e).__name__}" + (f": {text[0][:160]}" if text else "")


def _fresh(root):
    """codebase's modules imported from root, none of a previous part's left."""
    for name in [n for n in sys.modules if n == "codebase" or n.startswith("codebase.")]:
        del sys.modules[name]
    sys.path[:] = [root] + [p for p in sys.path if p != root and not p.startswith(os.path.dirname(root))]
    importlib.invalidate_caches()
    return {m: importlib.import_module(f"codebase.{m}") for m in MODULES}


def run_part(item, function, root):
    """[{"name", "ok", "why"}] of one function's cases, every case answered."""
    try:
        modules = _fresh(root)
        from codebase.kit import cases, verify
    except BaseException as e:  # the submission's module-level code runs here
        why = f"importing its module {_why(e)}"
        return [{"name": n, "ok": False, "why": why} for n in _names(item, function)]
    public = {s["name"] for s in cases.specs(public=True) if s["function"] == function}
    out = []
    for spec in (s for s in cases.specs() if s["item"] == item and s["function"] == function):
        try:
            case = cases.materialize(spec, modules)
            case["expected"] = cases.expected(case, modules, "independent")
            verify.run(case, modules)
            ok, why = True, ""
        except verify.Failed as e:
            ok, why = False, str(e)
        except BaseException as e:
            ok, why = False, _why(e)
        label = "public" if spec["name"] in public else "hidden"
        out.append({"name": spec["name"], "ok": ok, "why": f"{label} case '{spec['name']}': {why}" if why else ""})
    return out


def _names(item, function):
    from codebase.kit import cases  # the parent's copy is on the path even when the part's is not
    return cases.names(item)[function]


def main(spec_path, out_path):
    import torch
    torch.set_num_threads(1)  # the items' children run side by side
    with open(spec_path) as f:
        spec = json.load(f)
    done = {"parts": []}
    for part in spec["parts"]:
        answered = run_part(spec["item"], part["function"], part["dir"])
        done["parts"].append({"function": part["function"], "cases": answered})
        with open(out_path + ".tmp", "w") as f:
            json.dump(done, f)
        os.replace(out_path + ".tmp", out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
