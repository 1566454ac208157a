"""Shared fixtures. The tests read MNIST from $MNIST_DATA_DIR if set, else from the repository's
data/ (where the README puts it; downloaded there on first use), whatever folder pytest starts in.
A test that starts a process or changes folder hands it DATA_DIR (see child_env), never the
current folder or the caller's environment."""
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA_DIR = os.path.abspath(os.environ.get("MNIST_DATA_DIR") or ROOT / "data")


def child_env(**extra):
    """The environment of a process a test starts: this one's, MNIST at DATA_DIR, the repository
    importable, and `extra`."""
    return dict(os.environ, MNIST_DATA_DIR=DATA_DIR, PYTHONPATH=str(ROOT), **extra)


@pytest.fixture(scope="session")
def mnist():
    """The real MNIST, loaded once for the whole session (CPU)."""
    from codebase import data
    return data.load_mnist(DATA_DIR)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty current directory, so runs write checkpoints/ and logs/ there."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MNIST_DATA_DIR", DATA_DIR)
    return tmp_path
