"""The table of M1+M2's runs, from their records:

    python experiments/m1m2_table.py results/m1m2-ablation results                     # print it
    python experiments/m1m2_table.py results/m1m2-ablation results --page docs/m1m2.md # fill the page's block

One row per M1+M2 record found in the folders (each run's <folder>/<run>/metrics.json), oldest
first: its command, seed and commit, its validation and test accuracies, and the iterations and
minutes of its M1 (the newest record of the M1 run it names made before its own, looked up in the
same folders: an M1 trained on to more iterations leaves a record at each length) and of its M2,
on the CPU it names. A commit or M1's minutes marked "(dirty)" come from a record made with
uncommitted changes.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from codebase import files, readme, records  # noqa: E402  (after the path: run from anywhere)


def table(found):
    """found: records (see records.load) -> the table's Markdown"""
    lines = ["| command | seed | commit | validation | test | M1 + M2 iterations | M1 + M2 minutes | CPU, threads |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in sorted((r for r in found if r["model"] == "M1M2"), key=lambda r: r.get("date", "")):
        m1 = records.trained_first(r, found, "m1_run")
        m1_iterations, m1_minutes = ((m1["iterations"], f"{m1['train_seconds'] / 60:.1f}{_dirty(m1)}") if m1
                                     else ("?", "?"))
        lines.append(f"| `{r['command']}` | {r['seed']} | {r.get('commit', '?')[:7]}{_dirty(r)} | "
                     f"{r['metrics'].get('accuracy_validation', float('nan')):.4f} | {r['metrics']['accuracy']:.4f} | "
                     f"{m1_iterations} + {r['iterations']} | {m1_minutes} + {r['train_seconds'] / 60:.1f} | "
                     f"{records.where(r)} |")
    return "\n".join(lines)


def _dirty(r):
    """' (dirty)' for a record made with uncommitted changes"""
    return " (dirty)" if r.get("dirty") is not False else ""


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+", help="folders holding one folder per run")
    p.add_argument("--page", help="a Markdown page whose <!-- ablation --> block to fill, instead of printing")
    args = p.parse_args(argv)
    made = table(records.load(args.folders))
    if not args.page:
        print(made)
        return 0
    with open(args.page) as f:
        files.write(args.page, readme.fill(f.read(), {"ablation": made}))
    print(f"wrote the ablation table of {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
