"""codebase.data: loading with clear errors, the fixed subsets, the minibatch streams."""
import hashlib
import itertools
import os

import numpy as np
import pytest
import torch

from codebase import UserError, data
from conftest import DATA_DIR


def sha256(t):
    return hashlib.sha256(t.to(torch.uint8).contiguous().numpy().tobytes()).hexdigest()


@pytest.mark.slow
def test_mnist_in_memory(mnist):
    """Whole sets in memory as grey levels; the full test set also binarized once, statically."""
    assert mnist.train_x.shape == (60000, 784) and mnist.train_x.dtype == torch.uint8
    assert mnist.test_x.shape == (10000, 784) and mnist.test_x.dtype == torch.uint8
    assert mnist.train_y.shape == (60000,) and mnist.test_y.shape == (10000,)
    assert set(mnist.test_binary.unique().tolist()) == {0.0, 1.0}
    # The static binarization follows the grey levels: dark pixels are rarely on.
    assert (mnist.test_binary - mnist.test_x.float() / 255).mean().abs() < 1e-3
    assert torch.equal(data.load_mnist(DATA_DIR).test_binary, mnist.test_binary)


# The fingerprints below were computed once with the course's own code (CS236 HW2's data loader):
# its hand-picked indices per class into torchvision's MNIST, and for the test subset its one-off
# binarization, numpy's np.random.seed(0) then np.random.binomial(1, grey / 255); not with this
# project's code, which they check.
def test_course_test_subset(mnist):
    """The course's 100 bound images, binarized as the course does (reference from the course)."""
    assert mnist.test_subset.shape == (100, 784) and mnist.test_subset.sum().item() == 10257
    assert sha256(mnist.test_subset) == "e987bfcffd12fe0269806e1d7c819de46d3e7902b0d7d98dc7bd3c780ceab5d3"
    idx = data.course_subset(mnist.test_y, data.TEST_IDX)
    assert mnist.test_y[idx].tolist() == [c for c in range(10) for _ in range(10)]


def test_course_binarize_leaves_numpy_as_it_was():
    np.random.seed(123)
    want = np.random.rand()
    np.random.seed(123)
    data.course_binarize(torch.full((2, 784), 0.5))
    assert np.random.rand() == want


def test_course_labelled_set(mnist):
    """The SSVAE's 100 labelled images are the course's (reference from the course's code)."""
    idx = data.course_subset(mnist.train_y, data.TRAIN_IDX)
    assert mnist.train_y[idx].tolist() == [c for c in range(10) for _ in range(10)]
    assert mnist.train_x[idx].sum().item() == 2684050
    assert sha256(mnist.train_x[idx]) == "661bd79754bf9ee105bae5595beb334001007475c0742d641eb8f19d3fca1679"


def test_course_subset_by_brute_force():
    y = torch.tensor([1, 0, 1, 1, 0, 2, 2, 1])
    # class 0 at 1, 4; class 1 at 0, 2, 3, 7; class 2 at 5, 6
    assert data.course_subset(y, [[1], [3, 0, 0], [0, 1]]).tolist() == [4, 7, 0, 0, 5, 6]


def test_binarize_draws_what_torch_bernoulli_draws():
    x = torch.randint(0, 256, (300, 784), dtype=torch.uint8)
    want = torch.bernoulli(x.float() / 255, generator=torch.Generator().manual_seed(5))
    assert torch.equal(data.binarize(x, torch.Generator().manual_seed(5)), want)
    torch.manual_seed(6)
    want, after = torch.bernoulli(x.float() / 255), torch.rand(3)
    torch.manual_seed(6)
    assert torch.equal(data.binarize(x), want) and torch.equal(torch.rand(3), after)


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
    """The labelled images are the picks, binarized afresh; unlabelled batches draw from all."""
    n = 1000
    y = torch.arange(n) % 10
    fake = data.MNIST(encoded(n), y, None, None, None, None)
    picks = [[0, 1], [2, 2], [5, 3], [0, 9], [1, 1], [4, 2], [0, 3], [7, 6], [8, 8], [9, 0]]
    labelled = [10 * i + c for c, row in enumerate(picks) for i in row]
    stream = data.semisupervised(fake, seed=0, labelled=picks)
    seen = set()
    for _ in range(10):
        xu, xl, yl = next(stream)
        assert xu.shape == (100, 784) and xl.shape == (20, 784)
        seen |= set(decode(xu))
        assert decode(xl) == labelled and yl.tolist() == [c for c in range(10) for _ in range(2)]
    assert seen == set(range(n))  # one epoch of all the data, the labelled images included


def test_the_validation_split_is_the_last_10000_less_the_labelled_images(mnist):
    train, valid = data.validation_split(mnist.train_y)
    labelled = set(data.course_subset(mnist.train_y, data.TRAIN_IDX).tolist())
    assert sorted(train.tolist() + valid.tolist()) == list(range(60000))
    assert set(valid.tolist()) == set(range(50000, 60000)) - labelled and len(valid) == 9989
    assert labelled <= set(train.tolist())


def test_batches_draw_only_from_the_rows_given():
    n = 1000
    fake = data.MNIST(encoded(n), torch.arange(n) % 10, None, None, None, None)
    rows = torch.arange(0, n, 3)
    seen = set()
    for (x,), (xu, _, _) in zip(itertools.islice(data.unsupervised(fake, 0, rows=rows), 10),
                                data.semisupervised(fake, 0, labelled=[[0]] * 10, rows=rows), strict=False):
        seen |= set(decode(x)) | set(decode(xu))
    assert seen == set(rows.tolist())


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
