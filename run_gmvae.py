"""Train and evaluate the GMVAE, a VAE with a mixture-of-Gaussians prior (CS236 seed problem 2)."""
import sys

from codebase import run
from codebase.gmvae import GMVAE


def main(argv=None):
    return run.main(GMVAE, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
