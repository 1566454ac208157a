"""M1+M2's validation accuracy at each saved checkpoint of its runs: how it moves with M2's length.

    python experiments/m1m2_curve.py --runs 5                  # the default runs' seeds 0-4
    python experiments/m1m2_curve.py --folder checkpoints/X    # one run's checkpoints, by folder

The run script's flags name the runs (M1 and M2's settings, --run, --runs); --folder replaces
the run's checkpoint folder (for a renamed one). It prints a Markdown table, a row per seed and
a column per checkpoint. Only the validation accuracy is printed: it is what settings are chosen
on (docs/m1m2.md); the test accuracy stays in each run's final record.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from codebase import data, evaluate, flags, run, runtime, train  # noqa: E402  (after the path: run from anywhere)
from codebase.m1m2 import M1M2  # noqa: E402


def main(argv=None):
    """Prints the table; returns 0"""
    p = flags.parser(M1M2, __doc__)
    p.prog = "experiments/m1m2_curve.py"
    p.add_argument("--folder", help="the checkpoint folder of the one run to read, instead of the runs' own")
    args = p.parse_args(argv)
    runtime.start(args.threads)
    mnist = data.load_mnist(args.data_dir, args.device)
    valid = data.validation_split(mnist.train_y)[1]
    rows = {}
    for seed in range(args.run, args.run + args.runs):
        model = M1M2.from_flags(args, seed, mnist).to(args.device)
        ckpt_dir = args.folder or run.folders(f"{M1M2.run_name(args)}_run={seed:04d}")[0]
        for iteration, path in train.list_checkpoints(ckpt_dir):
            train.load_checkpoint(path, model)
            rows.setdefault(seed, {})[iteration] = evaluate.accuracy(model, mnist, seed, valid)["accuracy_validation"]
    iterations = sorted({i for row in rows.values() for i in row})
    print("| seed | " + " | ".join(map(str, iterations)) + " |")
    print("| --- |" + " --- |" * len(iterations))
    for seed, row in rows.items():
        print(f"| {seed} | " + " | ".join(f"{row[i]:.4f}" if i in row else "" for i in iterations) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
