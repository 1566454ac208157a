"""The results page: every run record under one or more folders, aggregated over seeds, beside the
course's values; and the measured tables of the READMEs.

    python -m codebase.report --logs results --readme README.md README.es.md docs/performance.md
                                                    # results/RESULTS.md, the published page, and
                                                    # the measured tables of the pages named
    python -m codebase.report                       # logs/RESULTS.md, over your own runs

A run record is a folder <run name>/ holding the metrics.json a run script writes and its
pictures (*.png); runs made on several machines are aggregated once their folders are copied
together, or named side by side after --logs. What the page says of a model (its headline metric,
the course's values, its README rows, the argument it sweeps) its class declares (codebase.model).
"""
import argparse
import os
import shlex
import sys

from codebase import files, page, readme, records


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--logs", nargs="+", default=["logs"], help="folders holding one folder per run")
    p.add_argument("--out", help="the page (default: <first --logs folder>/RESULTS.md)")
    p.add_argument("--readme", nargs="*", default=[], metavar="FILE",
                   help="READMEs whose measured tables to rewrite from these records (FILE.es.md: in Spanish)")
    args = p.parse_args(argv)
    out = args.out or os.path.join(args.logs[0], "RESULTS.md")
    found = records.load(args.logs)
    if not found:
        print(f"error: no metrics.json under {', '.join(f + '/*/' for f in args.logs)}; train first, "
              "with a run_*.py script", file=sys.stderr)
        return 1
    out_dir = os.path.dirname(os.path.abspath(out))
    os.makedirs(out_dir, exist_ok=True)
    groups = records.aggregate(found)
    for (model, argument), swept in page.sweeps(groups).items():
        page.sweep_plots(model, argument, swept, out_dir)
    command = shlex.join(["python", "-m", "codebase.report", *(sys.argv[1:] if argv is None else argv)])
    files.write(out, page.render(groups, out_dir, command))
    print(f"wrote {out} ({len(found)} runs)")
    for path in args.readme:
        with open(path) as f:
            text = f.read()
        lang = "es" if path.endswith(".es.md") else "en"
        files.write(path, readme.fill(text, readme.blocks(groups, readme.load_benches(args.logs[0]), lang)))
        print(f"wrote the measured tables of {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
