"""Train and evaluate the GMVAE, a VAE with a mixture-of-Gaussians prior (CS236 seed problem 2)."""
import sys
from functools import partial

from codebase import cli, data, evaluate
from codebase.gmvae import GMVAE


def main(argv=None):
    p = cli.parser(__file__, __doc__, iter_max=20000)
    p.add_argument("--z", type=cli.positive_int, default=10, help="latent dimension")
    p.add_argument("--k", type=cli.positive_int, default=500, help="mixture components in the prior")
    p.add_argument("--iw_full", type=cli.natural_int, default=100,
                   help="importance samples of the full-test-set IWAE bound (0: skip the full test set)")
    args = cli.parse(p, argv)
    return cli.main(args, f"model=gmvae_z={args.z}_k={args.k}", lambda: GMVAE(args.z, args.k),
                    data.unsupervised, partial(evaluate.bounds, full_iw=args.iw_full), evaluate.sample_grid)


if __name__ == "__main__":
    sys.exit(main())
