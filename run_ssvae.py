"""Train the semi-supervised VAE (M2) with 100 labels and report its test accuracy (CS236 seed
problem 3). `-gw 0` trains the classifier on the 100 labelled images alone."""
import sys

from codebase import run
from codebase.ssvae import SSVAE


def main(argv=None):
    return run.main(SSVAE, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
