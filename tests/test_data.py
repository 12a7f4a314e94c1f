"""Loading the real MNIST files: the book's split, the TFDS data layer, and clear errors."""

import gzip
import os
import time
from pathlib import Path

import numpy as np
import pytest

from nnjax import DataError, DataNotFoundError, Dataset, MNISTLoader, load_mnist
from nnjax.idx import read_folder, find_files, read_idx


def test_book_split_sizes_types_and_ranges(mnist):
    training, validation, test = mnist
    assert (len(training), len(validation), len(test)) == (50_000, 10_000, 10_000)
    for ds in mnist:
        assert ds.images.dtype == np.float32 and ds.images.shape[1] == 784
        assert 0.0 <= ds.images.min() and ds.images.max() <= 1.0
        assert np.issubdtype(ds.labels.dtype, np.integer)
        assert set(np.unique(ds.labels)) == set(range(10))
    # the published class counts of the test set (../shared/data/README.md)
    assert np.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_tfds_copy_matches_the_raw_idx_files_in_order(mnist, mnist_dir):
    raw = read_folder(find_files(mnist_dir))
    training, validation, test = mnist
    np.testing.assert_array_equal(training.images, raw["train_images"][:50_000].reshape(-1, 784) / np.float32(255))
    np.testing.assert_array_equal(validation.labels, raw["train_labels"][50_000:])
    np.testing.assert_array_equal(test.labels, raw["test_labels"])
    idx_training = load_mnist(mnist_dir, source="idx")[0]
    np.testing.assert_array_equal(idx_training.images, training.images)


def test_records_read_back_through_tfds_data_source_are_the_idx_records(mnist_dir):
    from nnjax import tfds_source

    raw = read_folder(find_files(mnist_dir))
    through_tfds = tfds_source.read_through_tfds(tfds_source.prepare(mnist_dir), splits=("test",))
    np.testing.assert_array_equal(through_tfds["test_images"], raw["test_images"])
    np.testing.assert_array_equal(through_tfds["test_labels"], raw["test_labels"])


def test_dataset_behaves_like_the_books_list_of_pairs(mnist):
    training = mnist[0]
    subset = training[:1000]
    assert isinstance(subset, Dataset) and len(subset) == 1000
    image, label = training[3]
    assert image.shape == (784,) and isinstance(label, int)
    pairs = list(subset[:5])
    assert len(pairs) == 5 and all(len(p) == 2 for p in pairs)
    np.testing.assert_array_equal(pairs[3][0], image)
    with pytest.raises(ValueError):
        training.images[0, 0] = 1.0  # the caller's data cannot be modified by accident


def test_seed_loader_returns_three_datasets(mnist_dir):
    training, validation, test = MNISTLoader.load_data()
    assert (len(training), len(validation), len(test)) == (50_000, 10_000, 10_000)


def test_missing_folder_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setenv("NNJAX_DATA_DIR", str(tmp_path / "nowhere"))
    start = time.monotonic()
    with pytest.raises(DataNotFoundError, match="NNJAX_DATA_DIR"):
        load_mnist()
    assert time.monotonic() - start < 10


def test_a_relative_data_dir_is_also_found_from_a_notebooks_folder(mnist_dir, monkeypatch):
    """The README gives NNJAX_DATA_DIR relative to the project; a notebook's kernel runs in
    notebooks/, where the same relative path names nothing."""
    from nnjax.data import PROJECT_ROOT, data_dir_from_env

    relative = os.path.relpath(mnist_dir.resolve(), PROJECT_ROOT)
    monkeypatch.setenv("NNJAX_DATA_DIR", relative)
    monkeypatch.chdir(PROJECT_ROOT / "notebooks")
    assert not Path(relative).exists()
    assert data_dir_from_env() == mnist_dir.resolve()
    assert len(load_mnist(source="idx")[2]) == 10_000
    monkeypatch.setenv("NNJAX_DATA_DIR", "no/such/folder")  # still refused, with its own name
    with pytest.raises(DataNotFoundError, match="no/such/folder"):
        load_mnist()


def test_folder_without_the_files_names_what_is_missing(tmp_path):
    with pytest.raises(DataNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path)


def test_no_data_anywhere_fails_within_seconds(tmp_path, monkeypatch):
    """Without a folder, offline, nnjax must not wait minutes on TFDS's download retries."""
    monkeypatch.delenv("NNJAX_DATA_DIR", raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    from nnjax import data, tfds_source

    monkeypatch.setattr(tfds_source, "network_available", lambda timeout=3.0: False)
    data._load_arrays.cache_clear()
    start = time.monotonic()
    with pytest.raises(DataNotFoundError, match="set NNJAX_DATA_DIR"):
        load_mnist()
    assert time.monotonic() - start < 30


def _write_idx(path, magic: bytes, dims, body: bytes):
    header = magic + b"".join(int(d).to_bytes(4, "big") for d in dims)
    with gzip.open(path, "wb") as f:
        f.write(header + body)


def test_corrupt_idx_files_are_named(tmp_path):
    bad_magic = tmp_path / "a.gz"
    _write_idx(bad_magic, b"\x12\x34\x08\x01", [3], b"\x01\x02\x03")
    with pytest.raises(DataError, match="a.gz.*magic"):
        read_idx(bad_magic)
    truncated = tmp_path / "b.gz"
    _write_idx(truncated, b"\x00\x00\x08\x03", [10, 28, 28], b"\x00" * 100)
    with pytest.raises(DataError, match="b.gz.*truncated"):
        read_idx(truncated)
    not_gzip = tmp_path / "c.gz"
    not_gzip.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(DataError, match="c.gz"):
        read_idx(not_gzip)
