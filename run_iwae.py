"""Train and evaluate the IWAE: the VAE trained on the k-sample importance-weighted bound."""
import sys

from codebase import run
from codebase.iwae import IWAE


def main(argv=None):
    return run.main(IWAE, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
