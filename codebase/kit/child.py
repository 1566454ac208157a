"""The grader's child process: runs one function's cases on their inputs and writes back what
the function returned. It judges nothing.

    python -m codebase.kit.child SPEC OUT

SPEC (JSON): {"cases": [{"kind", "function", "args"}, ...]}: the inputs only, no expected value.
`codebase` is imported from PYTHONPATH: a copy of the reference with the submission's function
spliced in (sandbox.py), which holds no case and no grader. After every case OUT is rewritten
(torch.save): {"import": why importing failed or None, "cases": [{"outputs": {name: tensor, None,
or the type's name of anything else}} or {"error": why}]}. The parent loads it without trusting
it (torch.load(weights_only=True), every field checked) and judges the outputs itself; whatever
the code under test prints goes to /dev/null.
"""
import importlib
import json
import os
import sys

MEMORY = 8 << 30  # bytes of address space: a submission that allocates without end fails here
OUTPUT = 64 << 20  # bytes: the largest file the child may write, and the parent reads


def limit():
    """The child's limits, soft and hard (so the code under test cannot raise them), set before it
    is imported. Here rather than in Popen's preexec_fn, which is unsafe with the grader's threads."""
    import resource
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT, OUTPUT))


def plain(value):
    """What the parent may load: a tensor's values (detached, on the CPU, no subclass), None, or
    the name of what else was returned."""
    import torch
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().as_subclass(torch.Tensor).clone()
    return None if value is None else type(value).__name__


def _write(done, path):
    import torch
    torch.save(done, path + ".tmp")
    os.replace(path + ".tmp", path)


def main(spec_path, out_path):
    limit()
    import torch
    torch.set_num_threads(1)  # the children run side by side
    with open(spec_path) as f:
        specs = json.load(f)["cases"]
    from codebase.kit import items, verify  # the reference's: the copy's kit is not spliced
    done = {"import": None, "cases": []}
    try:  # the submission's module-level code runs here
        modules = {m: importlib.import_module(f"codebase.{m}") for m in items.MODULES}
    except BaseException as e:  # noqa: B036 (it may call sys.exit)
        done["import"] = f"importing its module {verify.why(e)}"
        _write(done, out_path)
        return 0
    for case in specs:
        try:
            done["cases"].append({"outputs": {k: plain(v) for k, v in verify.outputs(case, modules).items()}})
        except verify.Failed as e:
            done["cases"].append({"error": str(e)})
        except BaseException as e:  # noqa: B036
            done["cases"].append({"error": verify.why(e)})
        _write(done, out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
