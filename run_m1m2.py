"""Train M1+M2 (Kingma et al. 2014, beyond the course): M1, the VAE of `run_vae.py --z 50
--validation --iter_max 60000 --run <this run>`, first (unless its final checkpoint exists), then
the semi-supervised M2 on its code, 90000 iterations, with the course's 100 labels; report the
validation and test accuracies."""
import sys

from codebase import m1m2


def main(argv=None):
    return m1m2.main(argv, __doc__)


if __name__ == "__main__":
    sys.exit(main())
