"""The models the tools know: the benchmark's, the pictures command's and the results page's list."""
from codebase.gmvae import GMVAE
from codebase.iwae import IWAE
from codebase.m1m2 import M1M2
from codebase.ssvae import SSVAE
from codebase.vae import VAE
from codebase.vampprior import VampPrior

ALL = [VAE, GMVAE, SSVAE, M1M2, VampPrior, IWAE]


def by_name(name):
    """The model class called `name` (a checkpoint's or a record's "model"), or None."""
    return next((cls for cls in ALL if cls.__name__ == name), None)
