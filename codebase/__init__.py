"""VAE, GMVAE and SSVAE on binarized MNIST."""


class UserError(Exception):
    """A problem the user can fix; the run scripts print it as one line and exit non-zero."""

    exit_code = 2
