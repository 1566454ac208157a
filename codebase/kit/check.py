"""Check your code against the public cases (codebase/kit/cases.json: inputs, and the reference's
outputs where they do not depend on random draws):

    python -m codebase.kit.check            # every item
    python -m codebase.kit.check 1.1 2.1    # some

Prints per item and function "passed" or "failed" and why; exits 1 when a case fails. The grader
runs these cases and hidden ones, each function with the reference's code around it.
"""
import argparse
import importlib
import json
import os
import sys

from codebase.kit import items, verify

CASES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases.json")


def modules():
    """({name: module} of the item files that import, {name: why one does not})."""
    got, errors = {}, {}
    for name in items.MODULES:
        try:
            got[name] = importlib.import_module(f"codebase.{name}")
        except Exception as e:
            errors[name] = f"importing codebase/{name}.py {verify.why(e)}"
    return got, errors


def run(numbers=None):
    """Run the public cases of items `numbers` (default: every code item). Returns (lines, all passed)."""
    import torch
    with open(CASES) as f:
        cases = json.load(f)
    mods, errors = modules()
    lines, ok_all = [], True
    for item in items.CODE:
        if numbers and item.number not in numbers:
            continue
        for part in item.parts:
            mine = [c for c in cases if c["item"] == item.number and c["function"] == part.function]
            failed = []
            for case in mine:
                missing = next((why for name, why in errors.items() if f"codebase/{name}.py" == part.file
                                or name == "utils"), None)
                try:
                    if missing:
                        raise verify.Failed(missing)
                    with torch.random.fork_rng(devices=[]):
                        verify.run(case, mods)
                except verify.Failed as e:
                    failed.append(f"case '{case['name']}': {e}")
                except BaseException as e:  # noqa: B036 (the code under test may call sys.exit)
                    failed.append(f"case '{case['name']}': {verify.why(e)}")
            ok_all &= not failed
            said = f"passed ({len(mine)} cases)" if not failed else f"failed {len(failed)} of {len(mine)}: {failed[0]}"
            lines.append(f"{item.number} {part.function}: {said}")
    return lines, ok_all


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m codebase.kit.check", description=__doc__.split("\n\n")[0])
    p.add_argument("items", nargs="*", help="item numbers, e.g. 1.1 2.1 (default: every code item)")
    args = p.parse_args(argv)
    unknown = [n for n in args.items if n not in {i.number for i in items.CODE}]
    if unknown:
        print(f"error: no code item {', '.join(unknown)}; name some of {', '.join(i.number for i in items.CODE)}",
              file=sys.stderr)
        return 2
    if not os.path.isfile(CASES):
        print("error: no codebase/kit/cases.json here: run the check in a starter (python -m codebase.kit starter DIR)",
              file=sys.stderr)
        return 2
    lines, ok = run(args.items)
    for line in lines:
        print(line)
    print("all public cases passed" if ok else "some public cases failed (see above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
