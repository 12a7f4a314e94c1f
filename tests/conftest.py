"""Shared fixtures. Tests use the real MNIST files: ``NNJAX_DATA_DIR`` names their folder (CI and
the README point it at ``../shared/data/mnist``; that folder is also the fallback here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"

if not os.environ.get("NNJAX_DATA_DIR") and SHARED_MNIST.is_dir():
    os.environ["NNJAX_DATA_DIR"] = str(SHARED_MNIST)
if os.environ.get("NNJAX_DATA_DIR"):
    # absolute, so that subprocesses and notebook kernels started in other folders find it too
    # (the README and CI give it relative to the project: ../shared/data/mnist)
    os.environ["NNJAX_DATA_DIR"] = os.path.abspath(os.environ["NNJAX_DATA_DIR"])


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    value = os.environ.get("NNJAX_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.fail("the tests need the real MNIST files: set NNJAX_DATA_DIR to the folder holding "
                    "the four IDX files (e.g. ../shared/data/mnist)")
    return Path(value)


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """``(training, validation, test)`` read through the TFDS data layer (once per session)."""
    from nnjax import load_mnist

    return load_mnist(mnist_dir)


@pytest.fixture()
def log_dir(tmp_path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
