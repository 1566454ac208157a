"""Train and evaluate the GMVAE, a VAE with a mixture-of-Gaussians prior (CS236 seed problem 2)."""
import sys

from codebase import run


def main(argv=None):
    return run.main("gmvae", argv)


if __name__ == "__main__":
    sys.exit(main())
