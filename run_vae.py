"""Train and evaluate the VAE on binarized MNIST (CS236 seed problem 1)."""
import sys
from functools import partial

from codebase import cli, data, evaluate
from codebase.vae import VAE


def main(argv=None):
    p = cli.parser(__file__, __doc__, iter_max=20000)
    p.add_argument("--z", type=cli.positive_int, default=10, help="latent dimension")
    p.add_argument("--beta", type=cli.nonnegative_float, default=1.0, help="weight of the KL in the training loss")
    p.add_argument("--iw_full", type=cli.natural_int, default=100,
                   help="importance samples of the full-test-set IWAE bound (0: skip the full test set)")
    args = cli.parse(p, argv)
    return cli.main(args, f"model=vae_z={args.z}_beta={args.beta:g}", lambda: VAE(args.z, args.beta),
                    data.unsupervised, partial(evaluate.bounds, full_iw=args.iw_full), evaluate.sample_grid)


if __name__ == "__main__":
    sys.exit(main())
