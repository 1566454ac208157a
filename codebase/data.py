"""MNIST in memory: loading with clear errors, binarization, fixed subsets, minibatch streams."""
import contextlib
import io
import itertools
import os
from dataclasses import dataclass

import numpy as np
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
VALIDATION = 10000  # the paper's validation split: the last 10000 training images (see validation_split)
TEST_SEED = 0  # the one static binarization of the full test set, shared by every run and model
BATCH_SIZE = 100

# The course's hand-picked images (CS236 HW2): for class c, positions among the images of class c
# in file order. TEST_IDX gives the bounds' 100 test images, TRAIN_IDX the SSVAE's 100 labelled
# training images. The repeated 128 (class 5) and 2176 (class 4) are the course's and stay.
TEST_IDX = [[684, 559, 629, 192, 835, 763, 707, 359, 9, 723], [277, 599, 1094, 600, 314, 705, 551, 87, 174, 849],
            [537, 845, 72, 777, 115, 976, 755, 448, 850, 99], [984, 177, 755, 797, 659, 147, 910, 423, 288, 961],
            [265, 697, 639, 544, 543, 714, 244, 151, 675, 510], [459, 882, 183, 28, 802, 128, 128, 53, 550, 488],
            [756, 273, 335, 388, 617, 42, 442, 543, 888, 257], [57, 291, 779, 430, 91, 398, 611, 908, 633, 84],
            [203, 324, 774, 964, 47, 639, 131, 972, 868, 180], [1000, 846, 143, 660, 227, 954, 791, 719, 909, 373]]
TRAIN_IDX = [[2732, 2607, 1653, 3264, 4931, 4859, 5827, 1033, 4373, 5874],
             [5924, 3468, 6458, 705, 2599, 2135, 2222, 2897, 1701, 537],
             [2893, 2163, 5072, 4851, 2046, 1871, 2496, 99, 2008, 755],
             [797, 659, 3219, 423, 3337, 2745, 4735, 544, 714, 2292],
             [151, 2723, 3531, 2930, 1207, 802, 2176, 2176, 1956, 3622],
             [3560, 756, 4369, 4484, 1641, 3114, 4984, 4353, 4071, 4009],
             [2105, 3942, 3191, 430, 4187, 2446, 2659, 1589, 2956, 2681],
             [4180, 2251, 4420, 4870, 1071, 4735, 6132, 5251, 5068, 1204],
             [3918, 1167, 1684, 3299, 2767, 2957, 4469, 560, 5425, 1605],
             [5795, 1472, 3678, 256, 3762, 5412, 1954, 816, 2435, 1634]]


def default_dir():
    """The data directory: $MNIST_DATA_DIR if set, else ./data (downloaded there on first use)."""
    return os.environ.get("MNIST_DATA_DIR", "data")


@dataclass
class MNIST:
    """MNIST on one device, images flattened to 784 values.

    train_x: tensor: (60000, 784): uint8 grey levels 0..255 (binarized afresh for every minibatch;
        kept as bytes, a quarter of the memory of floats)
    train_y: tensor: (60000,): labels 0..9
    test_x: tensor: (10000, 784): uint8 grey levels (the classifier is scored on these / 255)
    test_y: tensor: (10000,): labels 0..9
    test_binary: tensor: (10000, 784): the test images binarized once, with torch seed TEST_SEED
    test_subset: tensor: (100, 784): the course's 100 binary test images on which the bounds are
        reported (TEST_IDX, binarized as the course does, see course_binarize)
    """

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    test_binary: torch.Tensor
    test_subset: torch.Tensor


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
    test_binary = binarize(test_x, torch.Generator().manual_seed(TEST_SEED))
    test_subset = course_binarize(test_x[course_subset(test_y, TEST_IDX)].float() / 255)
    return MNIST(*(t.to(device) for t in (train_x, train_y, test_x, test_y, test_binary, test_subset)))


def validation_split(train_y, labelled=TRAIN_IDX):
    """The training images split as Kingma et al. (2014) split them: the last VALIDATION images are
    held out of training, to choose settings on, but for the course's labelled ones among them
    (11 of the 100 lie there; they keep training the classifier).

    train_y: tensor: (60000,): the training labels; labelled: positions per class (see course_subset)
    Returns train, valid: tensors of indices into the training images: (50011,) and (9989,)
    """
    valid = torch.zeros(len(train_y), dtype=torch.bool, device=train_y.device)
    valid[-VALIDATION:] = True
    valid[course_subset(train_y.cpu(), labelled).to(train_y.device)] = False
    return torch.nonzero(~valid).flatten(), torch.nonzero(valid).flatten()


def binarize(x, generator=None):
    """x: uint8 tensor: (..., 784): grey levels -> float tensor: (..., 784): pixels drawn from
    Bernoulli(grey / 255).

    Drawn as uniform < grey / 255, the comparison torch.bernoulli makes on the CPU with the same
    draws (so the same pixels), at a third of its time.
    """
    u = torch.rand(x.shape, generator=generator, device=x.device)
    return (u < x.float() / 255).float()


def course_binarize(x):
    """The course's one-off binarization: numpy's global RNG seeded with 0, then restored.

    x: float32 tensor: (n, 784): grey levels in [0, 1] -> float32 tensor: (n, 784): 0 or 1
    """
    state = np.random.get_state()
    np.random.seed(0)
    try:
        return torch.from_numpy(np.random.binomial(1, x.numpy()).astype(np.float32))
    finally:
        np.random.set_state(state)


def course_subset(y, idx):
    """Indices of the course's picks: for class c, positions idx[c] among the class-c examples.

    y: tensor: (N,): labels; idx: list of lists, one per class -> tensor: (sum of len(idx[c]),)
    """
    return torch.cat([torch.nonzero(y == c).flatten()[torch.tensor(i)] for c, i in enumerate(idx)])


def shuffled_batches(n, seed, start=0, batch_size=BATCH_SIZE, device="cpu"):
    """Endless stream of minibatches of indices into n examples, from minibatch `start` on.

    Epoch e visits the examples in the order torch.randperm(seed, e) gives, so minibatch i depends
    only on (seed, i): a run resumed at `start` draws exactly what an uninterrupted run would.
    Yields tensors: (batch_size,) on device
    """
    per_epoch = n // batch_size
    perm = None
    for i in itertools.count(start):
        epoch, j = divmod(i, per_epoch)
        if perm is None or j == 0:
            g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            perm = torch.randperm(n, generator=g).to(device)
        yield perm[j * batch_size:(j + 1) * batch_size]


def binarized_batches(x, seed, start=0, batch_size=BATCH_SIZE):
    """Endless stream of minibatches of x (see shuffled_batches), binarized afresh (see binarize):
    minibatch i depends only on (seed, i) and on the global RNG, so a run resumed at `start` with
    its RNG state restored draws exactly what an uninterrupted run would.
    x: uint8 tensor: (N, 784) -> yields float tensors: (batch_size, 784)
    """
    for rows in shuffled_batches(len(x), seed, start, batch_size, x.device):
        yield binarize(x.index_select(0, rows))  # a tenth of the time of x[rows] on uint8


def _pool(mnist, rows):
    return mnist.train_x if rows is None else mnist.train_x[rows]


def unsupervised(mnist, seed, start=0, rows=None):
    """Minibatches for the VAE and GMVAE: yields (x,), x: tensor: (100, 784), drawn from the
    training images `rows` (a tensor of indices; None: all 60000)."""
    return ((x,) for x in binarized_batches(_pool(mnist, rows), seed, start))


def semisupervised(mnist, seed, start=0, labelled=TRAIN_IDX, rows=None):
    """Minibatches for the SSVAE, as the course makes them: yields (xu, xl, yl).

    xu: tensor: (100, 784): unlabelled images, drawn from the training images `rows` (a tensor of
        indices; None: all 60000) (the objective sums the ELBO over all of X, the labelled images
        included)
    xl: tensor: (100, 784): the course's labelled images (`labelled` positions per class, see
        course_subset), binarized afresh each time
    yl: tensor: (100,): their labels
    """
    i = course_subset(mnist.train_y.cpu(), labelled).to(mnist.train_y.device)
    xl, yl = mnist.train_x[i], mnist.train_y[i]
    return ((xu, binarize(xl), yl) for xu in binarized_batches(_pool(mnist, rows), seed, start))
