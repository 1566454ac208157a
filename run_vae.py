"""Train and evaluate the VAE on binarized MNIST (CS236 seed problem 1)."""
import sys

from codebase import run


def main(argv=None):
    return run.main("vae", argv)


if __name__ == "__main__":
    sys.exit(main())
