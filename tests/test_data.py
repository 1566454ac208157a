"""codebase.data: loading with clear errors, the fixed subsets, the minibatch streams."""
import os

import pytest
import torch

from codebase import UserError, data
from conftest import DATA_DIR


def test_mnist_in_memory(mnist):
    """Whole train and test sets in memory; the test set binary, the train set grey levels."""
    assert mnist.train_x.shape == (60000, 784) and mnist.train_x.dtype == torch.uint8
    assert mnist.test_x.shape == (10000, 784) and set(mnist.test_x.unique().tolist()) == {0.0, 1.0}
    assert mnist.train_y.shape == (60000,) and mnist.test_y.shape == (10000,)
    # The static binarization follows the grey levels: dark pixels are rarely on.
    grey = data.datasets.MNIST(DATA_DIR, train=False).data.view(-1, 784).float() / 255
    assert (mnist.test_x - grey).mean().abs() < 1e-3


def test_fixed_test_subset(mnist):
    """The bounds' test images: the first 10 of each class, the same binary images every time."""
    idx = data.per_class(mnist.test_y, 10)
    assert mnist.test_y[idx].tolist() == [c for c in range(10) for _ in range(10)]
    for c in range(10):  # the first ten of class c, by brute force
        assert idx[10 * c:10 * c + 10].tolist() == [i for i, y in enumerate(mnist.test_y.tolist()) if y == c][:10]
    again = data.load_mnist(DATA_DIR)
    assert torch.equal(again.test_subset, mnist.test_subset)


def encoded(n):
    """uint8 images (n, 784) whose pixels are 0 or 255 and spell out the row index in binary, so
    that binarization is deterministic and a minibatch row tells which example it was."""
    bits = (torch.arange(n).unsqueeze(1) >> torch.arange(16)) & 1
    return (bits.repeat(1, 49) * 255).to(torch.uint8)


def decode(x):
    return (x[:, :16].long() << torch.arange(16)).sum(1).tolist()


def test_epochs_visit_every_example_once():
    stream = data.binarized_batches(encoded(500), seed=3)
    seen = [i for _ in range(5) for i in decode(next(stream))]
    assert sorted(seen) == list(range(500))
    second = [i for _ in range(5) for i in decode(next(stream))]
    assert sorted(second) == list(range(500)) and second != seen


def test_stream_resumes_where_it_stopped():
    """Batch i depends only on (seed, i) and the global RNG: a stream started at i, with the RNG
    state the first stream had there, yields the same batches."""
    x = torch.randint(0, 256, (500, 784), dtype=torch.uint8)
    torch.manual_seed(0)
    stream = data.binarized_batches(x, seed=1)
    head = [next(stream) for _ in range(7)]
    state = torch.get_rng_state()
    tail = [next(stream) for _ in range(6)]
    torch.set_rng_state(state)
    resumed = data.binarized_batches(x, seed=1, start=7)
    assert all(torch.equal(a, next(resumed)) for a in tail)
    other = data.binarized_batches(x, seed=2)
    assert not torch.equal(next(other), head[0])


def test_semisupervised_batches():
    """100 labelled images, 10 per class, fresh binarization; unlabelled batches never hold them."""
    n = 1000
    y = torch.arange(n) % 10
    fake = data.MNIST(encoded(n), y, None, None)
    labelled = set(data.per_class(y, 10).tolist())
    stream = data.semisupervised(fake, seed=0)
    for _ in range(12):
        xu, xl, yl = next(stream)
        assert xu.shape == (100, 784) and xl.shape == (100, 784)
        assert not labelled & set(decode(xu))
        assert set(decode(xl)) == labelled and torch.equal(yl, y[decode(xl)])
        assert torch.bincount(yl).tolist() == [10] * 10


def test_labelled_images_binarized_afresh(mnist):
    stream = data.semisupervised(mnist, seed=0)
    (_, a, _), (_, b, _) = next(stream), next(stream)
    assert set(a.unique().tolist()) == {0.0, 1.0} and not torch.equal(a, b)


@pytest.fixture
def raw_copy(tmp_path):
    """A data directory whose raw files link to the real ones; returns (root, raw folder)."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.FILES:
        os.symlink(os.path.join(DATA_DIR, "MNIST", "raw", name), raw / name)
    return tmp_path, raw


def test_loads_from_a_copy(raw_copy):
    assert data.load_mnist(str(raw_copy[0])).train_x.shape == (60000, 784)


def test_truncated_file(raw_copy):
    root, raw = raw_copy
    good = (raw / "t10k-labels-idx1-ubyte").read_bytes()
    (raw / "t10k-labels-idx1-ubyte").unlink()
    (raw / "t10k-labels-idx1-ubyte").write_bytes(good[:5000])
    with pytest.raises(UserError, match="t10k-labels-idx1-ubyte is corrupt .*5000 bytes.*delete it"):
        data.load_mnist(str(root))


def test_wrong_magic_number(raw_copy):
    root, raw = raw_copy
    good = (raw / "train-labels-idx1-ubyte").read_bytes()
    (raw / "train-labels-idx1-ubyte").unlink()
    (raw / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x03" + good[4:])
    with pytest.raises(UserError, match="magic number 2051; expected .* magic number 2049"):
        data.load_mnist(str(root))


def test_missing_data_without_network(tmp_path, monkeypatch):
    """No files and a failed download: one message naming the folder and the files expected."""
    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")
    monkeypatch.setattr(data.datasets, "MNIST", offline)
    with pytest.raises(UserError) as e:
        data.load_mnist(str(tmp_path / "nowhere"))
    message = str(e.value)
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in message and "\n" not in message
    assert all(name in message for name in data.FILES) and "--data-dir" in message
