"""Shared fixtures. The tests read MNIST where the run scripts do: from $MNIST_DATA_DIR, else from
./data (downloaded there on first use), taken from the folder pytest starts in."""
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA_DIR = os.path.abspath(os.environ.get("MNIST_DATA_DIR", "data"))  # as data.default_dir(), fixed


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
