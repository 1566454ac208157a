"""MNIST in memory: loading with clear errors, binarization, fixed subsets, minibatch streams."""
import contextlib
import io
import itertools
import os
from dataclasses import dataclass

import torch
from torchvision import datasets

from codebase import UserError

# The four raw files torchvision keeps under <root>/MNIST/raw: (size in bytes, magic number).
FILES = {
    "train-images-idx3-ubyte": (16 + 60000 * 784, 2051),
    "train-labels-idx1-ubyte": (8 + 60000, 2049),
    "t10k-images-idx3-ubyte": (16 + 10000 * 784, 2051),
    "t10k-labels-idx1-ubyte": (8 + 10000, 2049),
}
TEST_SEED = 0  # the one static binarization of the test set, shared by every run and model
BATCH_SIZE = 100


def default_dir():
    """The data directory: $MNIST_DATA_DIR if set, else ./data (downloaded there on first use)."""
    return os.environ.get("MNIST_DATA_DIR", "data")


@dataclass
class MNIST:
    """MNIST on one device, images flattened to 784 floats.

    train_x: tensor: (60000, 784): uint8 grey levels 0..255 (binarized afresh for every minibatch;
        kept as bytes, a quarter of the memory of floats)
    train_y: tensor: (60000,): labels 0..9
    test_x: tensor: (10000, 784): binary, binarized once with TEST_SEED
    test_y: tensor: (10000,): labels 0..9
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    @property
    def test_subset(self):
        """tensor: (100, 784): the fixed binary test images on which the bounds are reported."""
        return self.test_x[per_class(self.test_y, 10)]


def load_mnist(root, device="cpu"):
    """Load MNIST from <root>/MNIST/raw, downloading it first if it is not there."""
    raw = os.path.join(root, "MNIST", "raw")
    if not all(os.path.exists(os.path.join(raw, name)) for name in FILES):
        print(f"MNIST not found in {raw}: downloading it")
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # torchvision prints every mirror tried
                for train in (True, False):
                    datasets.MNIST(root, train=train, download=True)
        except Exception as e:
            raise UserError(
                f"MNIST is not in {raw} and could not be downloaded ({type(e).__name__}); put "
                f"{', '.join(FILES)} there, or point --data-dir (or MNIST_DATA_DIR) at a folder "
                "that holds MNIST/raw/") from None
    for name, (size, magic) in FILES.items():
        path = os.path.join(raw, name)
        with open(path, "rb") as f:
            found_magic = int.from_bytes(f.read(4), "big")
        found_size = os.path.getsize(path)
        if (found_size, found_magic) != (size, magic):
            raise UserError(
                f"{path} is corrupt ({found_size} bytes, magic number {found_magic}; expected "
                f"{size} bytes, magic number {magic}); delete it to download it again")

    def split(train):
        d = datasets.MNIST(root, train=train, download=False)
        return d.data.view(-1, 784), d.targets

    train_x, train_y = split(True)
    test_x, test_y = split(False)
    test_x = binarize(test_x, torch.Generator().manual_seed(TEST_SEED))
    return MNIST(*(t.to(device) for t in (train_x, train_y, test_x, test_y)))


def binarize(x, generator=None):
    """x: uint8 tensor: (..., 784): grey levels -> float tensor: (..., 784): pixels drawn from
    Bernoulli(grey / 255)"""
    return torch.bernoulli(x.float() / 255, generator=generator)


def per_class(y, n, classes=10):
    """Indices of the first n examples of each class, class by class.

    y: tensor: (N,): labels -> tensor: (classes * n,)
    """
    return torch.cat([torch.nonzero(y == c).flatten()[:n] for c in range(classes)])


def binarized_batches(x, seed, start=0, batch_size=BATCH_SIZE):
    """Endless stream of minibatches of x, binarized afresh with torch.bernoulli.

    Epoch e visits x in the order torch.randperm(seed, e) gives; minibatch i depends only on
    (seed, i) and on the global RNG (the binarization), so a run resumed at `start` with its RNG
    state restored draws exactly what an uninterrupted run would.
    x: uint8 tensor: (N, 784) -> yields float tensors: (batch_size, 784)
    """
    per_epoch = len(x) // batch_size
    perm = None
    for i in itertools.count(start):
        epoch, j = divmod(i, per_epoch)
        if perm is None or j == 0:
            g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            perm = torch.randperm(len(x), generator=g).to(x.device)
        yield binarize(x[perm[j * batch_size:(j + 1) * batch_size]])


def unsupervised(mnist, seed, start=0):
    """Minibatches for the VAE and GMVAE: yields (x,), x: tensor: (100, 784)."""
    return ((x,) for x in binarized_batches(mnist.train_x, seed, start))


def semisupervised(mnist, seed, start=0, labels_per_class=10):
    """Minibatches for the SSVAE: yields (xu, xl, yl).

    xu: tensor: (100, 784): unlabelled images, drawn from all but the labelled ones
    xl: tensor: (100, 784): the 100 labelled images (10 per class), binarized afresh each time
    yl: tensor: (100,): their labels
    """
    labelled = per_class(mnist.train_y, labels_per_class)
    rest = torch.ones(len(mnist.train_x), dtype=torch.bool, device=mnist.train_x.device)
    rest[labelled] = False
    xl, yl = mnist.train_x[labelled], mnist.train_y[labelled]
    return ((xu, binarize(xl), yl)
            for xu in binarized_batches(mnist.train_x[rest], seed, start))
