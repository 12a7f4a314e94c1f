"""MNIST through tensorflow-datasets, offline: a TFDS builder over a local folder of IDX files.

The builder reads the four IDX files from TFDS's "manual" folder and writes an array_record copy
(no TensorFlow needed); :func:`load_arrays` reads it back with ``tfds.data_source``. The copy is
prepared once per distinct set of files (keyed by their SHA-256) under the nnjax cache folder, never
beside the data, which may be read-only. Records keep the IDX order (``disable_shuffling``), so the
book's split — the last 10,000 training images as validation — is the same as from the raw files.

Where the network allows, TFDS's own ``mnist`` is used when no local folder is given; offline that
call would retry for minutes, so :func:`network_available` is asked first and fails in seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import logging
import os
import socket
from pathlib import Path

import numpy as np

from nnjax import idx

log = logging.getLogger(__name__)
BUILDER_NAME = "nnjax_local_mnist"
TFDS_HOST = ("storage.googleapis.com", 443)


def cache_dir() -> Path:
    """Where nnjax keeps prepared data: ``$NNJAX_CACHE_DIR``, else ``$XDG_CACHE_HOME/nnjax``."""
    if os.environ.get("NNJAX_CACHE_DIR"):
        return Path(os.environ["NNJAX_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nnjax"


def _tfds():
    import tensorflow_datasets as tfds  # slow import (≈2 s): only when TFDS is used

    tfds.disable_progress_bar()
    return tfds


def _builder_class():
    tfds = _tfds()
    if BUILDER_NAME in tfds.list_builders(with_community_datasets=False):
        return tfds.builder_cls(BUILDER_NAME)

    class NnjaxLocalMnist(tfds.core.GeneratorBasedBuilder):
        """MNIST (or Fashion-MNIST) from the four original IDX files in a local folder."""

        VERSION = tfds.core.Version("1.0.0")
        MANUAL_DOWNLOAD_INSTRUCTIONS = "Put the four IDX files (train-images-idx3-ubyte.gz, ...) in a folder."

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                description="MNIST-format IDX files read from a local folder by nnjax.",
                features=tfds.features.FeaturesDict({
                    "image": tfds.features.Tensor(shape=(28, 28), dtype=np.uint8),
                    "label": tfds.features.Tensor(shape=(), dtype=np.int64),
                }),
                supervised_keys=("image", "label"),
                disable_shuffling=True,
            )

        def _split_generators(self, dl_manager):
            files = idx.find_files(dl_manager.manual_dir)
            arrays = idx.read_folder(files)
            return {split: self._generate_examples(arrays[f"{split}_images"], arrays[f"{split}_labels"])
                    for split in ("train", "test")}

        def _generate_examples(self, images, labels):
            for i, (image, label) in enumerate(zip(images, labels)):
                yield i, {"image": image, "label": int(label)}

    return NnjaxLocalMnist


def _digest(files: dict[str, Path]) -> str:
    h = hashlib.sha256()
    for key in sorted(files):
        h.update(files[key].read_bytes())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def _exclusive(lock_path: Path):
    """Hold an inter-process lock so that concurrent runs prepare the copy once."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _files_and_data_dir(folder) -> tuple[dict[str, Path], Path]:
    files = idx.find_files(folder)
    if files is None:
        raise idx.DataError(f"{folder}: missing {', '.join(idx.missing_files(folder))}")
    return files, cache_dir() / "tfds" / _digest(files)


def prepare(folder: str | os.PathLike) -> Path:
    """Prepare (once) the TFDS copy of the IDX files in ``folder``; returns its TFDS data_dir.

    The copy's folder is named by the SHA-256 of the files, so changed files get a new copy."""
    files, data_dir = _files_and_data_dir(folder)
    builder_cls = _builder_class()
    absl_log = logging.getLogger("absl")  # TFDS warns that the folder it is about to fill is empty
    level = absl_log.level
    absl_log.setLevel(logging.ERROR)
    try:
        with _exclusive(data_dir.with_suffix(".lock")):
            builder = builder_cls(data_dir=str(data_dir))
            if not builder.is_prepared():
                idx.read_folder(files)  # validate before TFDS sees them: errors name the file
                log.info("preparing the TFDS copy of %s in %s (once)", folder, data_dir)
                tfds = _tfds()
                with contextlib.redirect_stdout(io.StringIO()):  # TFDS prints its progress
                    builder.download_and_prepare(
                        file_format="array_record",
                        download_config=tfds.download.DownloadConfig(manual_dir=str(folder)))
    finally:
        absl_log.setLevel(level)
    return data_dir


def _read_split(source) -> tuple[np.ndarray, np.ndarray]:
    records = source.__getitems__(range(len(source)))
    images = np.stack([np.asarray(r["image"]).reshape(28, 28) for r in records]).astype(np.uint8)
    labels = np.fromiter((int(r["label"]) for r in records), np.int64, len(records))
    return images, labels


def read_through_tfds(data_dir: Path, splits=("train", "test")) -> dict[str, np.ndarray]:
    """Read the prepared copy in ``data_dir`` back with ``tfds.data_source`` (≈75 µs a record)."""
    sources = _tfds().data_source(BUILDER_NAME, data_dir=str(data_dir), download=False)
    out = {}
    for split in splits:
        out[f"{split}_images"], out[f"{split}_labels"] = _read_split(sources[split])
    return out


def load_arrays(folder: str | os.PathLike) -> dict[str, np.ndarray]:
    """uint8 images (n, 28, 28) and int labels for "train" and "test", from the TFDS copy.

    The first read goes through ``tfds.data_source`` (≈5 s for 70,000 records, all in Python) and
    leaves the decoded arrays beside the prepared copy (``arrays.npz``, same cache key), so later
    loads take a fraction of a second.
    """
    _, data_dir = _files_and_data_dir(folder)
    decoded = data_dir / "arrays.npz"
    if decoded.is_file():
        try:
            with np.load(decoded) as npz:
                return {key: npz[key] for key in npz.files}
        except (OSError, ValueError, KeyError):  # a damaged cache is rebuilt, never trusted
            log.warning("ignoring damaged %s", decoded)
    arrays = read_through_tfds(prepare(folder))
    tmp = decoded.with_name(f"arrays.{os.getpid()}.tmp.npz")
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, decoded)  # atomic: concurrent readers see the whole file or none
    except OSError as exc:
        log.warning("could not cache decoded arrays in %s: %s", decoded, exc)
    return arrays


def network_available(timeout: float = 3.0) -> bool:
    """Whether TFDS's download host answers within ``timeout`` seconds."""
    try:
        with socket.create_connection(TFDS_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def load_tfds_mnist(download: bool) -> dict[str, np.ndarray]:
    """TFDS's own ``mnist`` (prepared in TFDS's data dir, or downloaded when ``download``)."""
    sources = _tfds().data_source("mnist", download=download)
    out = {}
    for split in ("train", "test"):
        out[f"{split}_images"], out[f"{split}_labels"] = _read_split(sources[split])
    return out
