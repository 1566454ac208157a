"""Train and evaluate the VAE with a VampPrior, a mixture of its posteriors at learned pseudo-inputs."""
import sys

from codebase import run
from codebase.vampprior import VampPrior


def main(argv=None):
    return run.main(VampPrior, argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
