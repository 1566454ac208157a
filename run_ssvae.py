"""Train the semi-supervised VAE (M2) with 100 labels and report its test accuracy (CS236 seed
problem 3). `-gw 0` trains the classifier on the 100 labelled images alone."""
import sys

from codebase import cli, data, evaluate
from codebase.ssvae import SSVAE


def main(argv=None):
    p = cli.parser(__file__, __doc__, iter_max=30000)
    p.add_argument("--gw", "-gw", type=cli.nonnegative_float, default=1.0, help="weight of the -ELBO on unlabelled data")
    p.add_argument("--cw", "-cw", type=cli.nonnegative_float, default=100.0, help="weight of the labelled cross-entropy")
    args = cli.parse(p, argv)
    return cli.main(args, f"model=ssvae_gw={args.gw:g}_cw={args.cw:g}",
                    lambda: SSVAE(gen_weight=args.gw, class_weight=args.cw),
                    data.semisupervised, evaluate.accuracy, evaluate.class_grid)


if __name__ == "__main__":
    sys.exit(main())
