"""MNIST as the book splits it, and the :class:`Dataset` the rest of nnjax trains on.

``load_mnist()`` returns ``(training, validation, test)``: the first 50,000 images of the training
file, its last 10,000, and the 10,000 ``t10k`` images — Nielsen's split. Images are float32 in
[0, 1], flattened to 784 values; labels are integers 0–9.

Where the data comes from, in order: the ``data_dir`` argument, else the folder named by the
environment variable ``NNJAX_DATA_DIR`` (the four original IDX files, ``.gz`` or raw), read through
a tensorflow-datasets builder (``source="tfds"``, the default) or directly (``source="idx"``, the
same arrays, faster); else TFDS's own ``mnist`` if already prepared, or downloaded when the network
answers. With none of these, :class:`DataNotFoundError` says within seconds where it looked and what
to do. nnjax never substitutes fake data.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import os
import pickle
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from nnjax import idx, tfds_source
from nnjax.idx import DataError

N_VALIDATION = 10_000
N_CLASSES = 10  # the digits 0-9
SOURCES = ("tfds", "idx")


class DataNotFoundError(DataError, FileNotFoundError):
    """No MNIST data could be found; the message lists where nnjax looked and how to fix it."""


class Dataset:
    """Images and labels, held once as arrays; behaves like the book's list of ``(x, y)`` pairs.

    ``len(d)``, ``d[i] -> (image (784,), label)``, ``d[:1000] -> Dataset`` (a view: no copy) and
    iteration over pairs work as with the book's lists. ``d.images`` (n, 784) float32 and
    ``d.labels`` (n,) int32 are what the compiled code uses. The arrays are read-only. Labels may be
    given as ints, whole floats, an (n, 1) column or one-hot rows. ``n_classes`` (10 for MNIST,
    None when unknown) lets training check the size of the output layer.
    """

    def __init__(self, images, labels, *, name: str = "data", n_classes: int | None = None):
        images = _numeric(images, f"{name}: images")
        labels = _numeric(labels, f"{name}: labels")
        if images.ndim < 2:
            raise ValueError(f"{name}: images must be an array of shape (n, 784) — one row per image "
                             f"(or (n, 28, 28), (n, 784, 1)); got shape {images.shape}")
        if images.ndim > 2:
            images = images.reshape(len(images), -1)
        if images.dtype == np.uint8:  # one pass, one new array (fresh memory is slow to touch)
            images = np.divide(images, np.float32(255.0), dtype=np.float32)
        self.images = _read_only(images.astype(np.float32, copy=False))
        self.labels = _read_only(_class_labels(labels, name))
        self.name = name
        self.n_classes = n_classes
        if len(self.images) != len(self.labels):
            raise ValueError(f"{name}: {len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, item):
        if isinstance(item, slice):
            part = Dataset(self.images[item], self.labels[item], name=self.name,
                           n_classes=self.n_classes)
            if hasattr(self, "origin"):
                part.origin = self.origin
            return part
        return self.images[item], int(self.labels[item])

    def __iter__(self) -> Iterator[tuple[np.ndarray, int]]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"Dataset({self.name!r}, n={len(self)}, image_size={self.images.shape[1]})"

    @property
    def n_inputs(self) -> int:
        return int(self.images.shape[1])


def _numeric(values, what: str) -> np.ndarray:
    """``values`` as a NumPy array of numbers, or a ``TypeError`` saying what was wrong."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be an array of numbers ({exc})") from exc
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be an array of numbers, got dtype {array.dtype}")
    return array


def _class_labels(labels: np.ndarray, name: str) -> np.ndarray:
    """Labels as int32 digits, shape (n,): from ints, whole floats, (n, 1) columns or one-hot rows."""
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    elif labels.ndim == 2:  # one-hot rows, as the book's training data
        if not (np.isin(labels, (0, 1)).all() and (labels.sum(axis=1) == 1).all()):
            raise ValueError(f"{name}: 2-D labels must be one-hot rows (a single 1 per row), "
                             f"shape (n, classes); got shape {labels.shape} with other values")
        labels = labels.argmax(axis=1)
    if labels.ndim != 1:
        raise ValueError(f"{name}: labels must have shape (n,) (digits 0-9), (n, 1) or one-hot "
                         f"(n, classes); got shape {labels.shape}")
    if labels.dtype.kind == "f" and not (np.isfinite(labels).all() and (labels == np.round(labels)).all()):
        raise ValueError(f"{name}: labels must be whole numbers (class indices such as 0-9); "
                         f"got non-integer values such as {labels[labels != np.round(labels)][:3]}")
    return labels.astype(np.int32, copy=False)


def _read_only(a: np.ndarray) -> np.ndarray:
    a = a.view()
    a.flags.writeable = False
    return a


def as_dataset(data, *, name: str = "data") -> Dataset:
    """A :class:`Dataset` from what users pass: a Dataset, ``(images, labels)`` arrays, or a list,
    generator or ``zip`` of ``(image, label)`` pairs in the book's format (``(784, 1)`` columns,
    labels as ints or one-hot vectors). Iterators are read exactly once. Raises ``ValueError`` or
    ``TypeError`` saying what was wrong.
    """
    if isinstance(data, Dataset):
        return data
    if data is None:
        raise TypeError(f"{name} is None; pass a Dataset such as MNISTLoader.load_data()[0]")
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(hasattr(a, "shape") for a in data):
        images, labels = data  # (images, labels) arrays; Dataset checks their shapes
    elif isinstance(data, (str, bytes, dict)) or not isinstance(data, Iterable):
        raise TypeError(f"{name} must be a Dataset, an (images, labels) pair of arrays or a list of "
                        f"(image, label) pairs; got {type(data).__name__}")
    else:
        pairs = list(data)  # generators and zip objects are materialised once, here
        if not pairs:
            raise ValueError(f"{name} is empty: it needs at least one (image, label) pair")
        try:
            images = np.stack([np.asarray(x, np.float32).reshape(-1) for x, _ in pairs])
            labels = np.array([_label(y) for _, y in pairs])
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be (images, labels) arrays or a list of (image, label) "
                            f"pairs of the same size, images of 784 numbers and integer labels "
                            f"({exc})") from exc
    ds = Dataset(images, labels, name=name)
    if len(ds) == 0:
        raise ValueError(f"{name} is empty: it needs at least one (image, label) pair")
    return ds


def _label(y) -> int:
    y = np.asarray(y)
    return int(y.argmax()) if y.size > 1 else y.reshape(()).item()  # Dataset checks it is whole


# the checkout nnjax runs from (an editable install), where the README's relative paths start
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_dir_from_env() -> Path | None:
    """The folder named by ``NNJAX_DATA_DIR``, or None. A relative value is taken from the current
    folder; where it names nothing there, from the nnjax checkout's root, where the README gives
    it (``../shared/data/mnist``) — so a notebook, whose kernel runs in ``notebooks/``, finds the
    same folder as the command that started Jupyter."""
    value = os.environ.get("NNJAX_DATA_DIR", "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    if not path.is_absolute() and not path.exists() and (PROJECT_ROOT / "pyproject.toml").is_file():
        from_root = PROJECT_ROOT / path
        if from_root.is_dir():
            return from_root.resolve()
    return path


def load_mnist(data_dir: str | os.PathLike | None = None, *, source: str | None = None,
               n_validation: int = N_VALIDATION) -> tuple[Dataset, Dataset, Dataset]:
    """``(training, validation, test)`` with Nielsen's split; see the module docstring for where from.

    ``source`` is ``"tfds"`` (default; ``$NNJAX_DATA_SOURCE`` overrides) or ``"idx"``. Loaded arrays
    are cached in the process, so a second call costs nothing.
    """
    source = (source or os.environ.get("NNJAX_DATA_SOURCE") or "tfds").lower()
    if source not in SOURCES:
        raise ValueError(f"unknown data source {source!r}; allowed: {', '.join(SOURCES)}")
    folder = Path(data_dir).expanduser() if data_dir is not None else data_dir_from_env()
    key = str(folder.resolve()) if folder is not None else None
    arrays = _load_arrays(key, source)
    origin = f"{source}:{key}" if key else "tfds:mnist"
    n_train_file = len(arrays["train_labels"])
    if not 0 <= n_validation < n_train_file:
        raise ValueError(f"n_validation must be in [0, {n_train_file}), got {n_validation}")
    cut = n_train_file - n_validation
    train = Dataset(arrays["train_images"][:cut], arrays["train_labels"][:cut], name="training",
                    n_classes=N_CLASSES)
    val = Dataset(arrays["train_images"][cut:], arrays["train_labels"][cut:], name="validation",
                  n_classes=N_CLASSES)
    test = Dataset(arrays["test_images"], arrays["test_labels"], name="test", n_classes=N_CLASSES)
    for d in (train, val, test):
        d.origin = origin
    return train, val, test


@functools.lru_cache(maxsize=4)
def _load_arrays(folder: str | None, source: str) -> dict[str, np.ndarray]:
    if folder is not None:
        path = Path(folder)
        if not path.is_dir():
            raise DataNotFoundError(
                f"MNIST folder {path} does not exist. Set NNJAX_DATA_DIR (or pass data_dir) to a "
                f"folder holding the four IDX files, e.g. export NNJAX_DATA_DIR=../shared/data/mnist")
        files = idx.find_files(path)
        if files is None:
            raise DataNotFoundError(
                f"MNIST folder {path} lacks {', '.join(idx.missing_files(path))}. It needs the four "
                f"original IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
                f"t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz)")
        return tfds_source.load_arrays(path) if source == "tfds" else idx.read_folder(files)
    return _load_without_folder()


def _load_without_folder() -> dict[str, np.ndarray]:
    looked = ["NNJAX_DATA_DIR: not set"]
    try:
        return tfds_source.load_tfds_mnist(download=False)
    except Exception as exc:  # TFDS raises several types for "not prepared"
        looked.append(f"a prepared TFDS 'mnist' in the TFDS data dir: none ({type(exc).__name__})")
    if tfds_source.network_available():
        return tfds_source.load_tfds_mnist(download=True)
    looked.append(f"TFDS download: no network ({tfds_source.TFDS_HOST[0]} unreachable)")
    raise DataNotFoundError(
        "No MNIST data found. Looked at: " + "; ".join(looked) + ". To fix: set NNJAX_DATA_DIR to "
        "a folder with the four MNIST IDX files (train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz), "
        "for example: export NNJAX_DATA_DIR=../shared/data/mnist")


class _ArraysOnly(pickle.Unpickler):
    """An unpickler that builds NumPy arrays (and tuples, lists, numbers) and nothing else: pickle
    runs whatever code a file names, so every other class or function is refused."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
               ("numpy", "ndarray"), ("numpy", "dtype"),
               ("_codecs", "encode")}  # how Python 3 writes array bytes at protocol 2

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: only NumPy arrays are allowed")
        if module.startswith("numpy.core") and int(np.__version__.split(".")[0]) >= 2:
            module = module.replace("numpy.core", "numpy._core", 1)
        return getattr(importlib.import_module(module), name)

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refusing a persistent id: only NumPy arrays are allowed")


def load_mnist_pkl(path: str | os.PathLike) -> tuple[Dataset, Dataset, Dataset]:
    """``(training, validation, test)`` from Nielsen's ``mnist.pkl.gz`` (50,000 / 10,000 / 10,000).

    The file is a (Python 2) pickle; it is read with an unpickler that admits NumPy arrays and
    nothing else, so a tampered file raises :class:`DataError` instead of running code.
    """
    path = Path(path)
    try:
        with gzip.open(path, "rb") as f:
            splits = _ArraysOnly(f, encoding="latin1").load()
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"{path}: cannot read it as Nielsen's mnist.pkl.gz ({exc})") from exc
    if not (isinstance(splits, (tuple, list)) and len(splits) == 3
            and all(isinstance(p, (tuple, list)) and len(p) == 2 for p in splits)):
        raise DataError(f"{path}: expected three (images, labels) pairs (training, validation, test)")
    names = ("training", "validation", "test")
    out = tuple(Dataset(images, labels, name=name, n_classes=N_CLASSES)
                for name, (images, labels) in zip(names, splits))
    for d in out:
        d.origin = f"pkl:{path}"
    return out


class MNISTLoader:
    """The seed project's loader: ``MNISTLoader.load_data()`` → ``(training, validation, test)``."""

    @staticmethod
    def load_data(data_dir: str | os.PathLike | None = None, *, source: str | None = None):
        return load_mnist(data_dir, source=source)


__all__ = ["Dataset", "DataError", "DataNotFoundError", "as_dataset", "load_mnist", "load_mnist_pkl",
           "MNISTLoader"]
