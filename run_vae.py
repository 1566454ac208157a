"""Train and evaluate the VAE on binarized MNIST (CS236 seed problem 1)."""
import sys

from codebase import cli, data, evaluate
from codebase.vae import VAE


def main(argv=None):
    p = cli.parser(__file__, __doc__, iter_max=20000)
    p.add_argument("--z", type=cli.positive_int, default=10, help="latent dimension")
    p.add_argument("--beta", type=cli.nonnegative_float, default=1.0, help="weight of the KL in the training loss")
    args = cli.parse(p, argv)
    return cli.main(args, f"model=vae_z={args.z}_beta={args.beta:g}", lambda: VAE(args.z, args.beta),
                    data.unsupervised, evaluate.bounds, evaluate.sample_grid)


if __name__ == "__main__":
    sys.exit(main())
