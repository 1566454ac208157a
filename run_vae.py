"""Train and evaluate the VAE on binarized MNIST (CS236 seed problem 1)."""
import sys

from codebase import run
from codebase.vae import VAE


def main(argv=None):
    return run.main(VAE, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
