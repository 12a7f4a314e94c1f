"""Reader for the IDX format of the original MNIST files (``train-images-idx3-ubyte[.gz]`` ...).

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the data. Every problem is reported as a :class:`DataError`
naming the file: a wrong magic number, a truncated body, an unexpected shape or count.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

UBYTE = 0x08
# The four files of MNIST (and Fashion-MNIST, which uses the same names and format).
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


class DataError(ValueError):
    """Data that cannot be used: missing, corrupt or of the wrong shape. The message says which file."""


def read_idx(path: str | os.PathLike, *, ndim: int | None = None) -> np.ndarray:
    """The uint8 array in an IDX file (gzip-compressed or raw), checked against its header."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(2)
        opener = gzip.open if head == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as exc:  # gzip raises these for truncated or bad compressed files
        raise DataError(f"{path}: cannot read the file ({exc}); download it again") from exc
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number {data[:4].hex() or 'empty'}); "
                        "expected the original MNIST files such as train-images-idx3-ubyte.gz")
    if data[2] != UBYTE:
        raise DataError(f"{path}: IDX type code 0x{data[2]:02x} is not unsigned bytes (0x08)")
    dims_count = data[3]
    if ndim is not None and dims_count != ndim:
        raise DataError(f"{path}: has {dims_count} dimensions, expected {ndim}")
    header = 4 + 4 * dims_count
    if len(data) < header:
        raise DataError(f"{path}: truncated header")
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims_count)]
    expected = int(np.prod(dims))
    body = len(data) - header
    if body != expected:
        raise DataError(f"{path}: header promises {dims} = {expected} bytes of data but the file "
                        f"holds {body} (truncated or wrong count); download it again")
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def find_files(folder: str | os.PathLike) -> dict[str, Path] | None:
    """The four IDX files in ``folder`` (``.gz`` preferred, raw accepted), or None if any is missing."""
    folder = Path(folder)
    found = {}
    for key, stem in FILES.items():
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found


def missing_files(folder: str | os.PathLike) -> list[str]:
    """Names of the IDX files that ``folder`` lacks (for error messages)."""
    folder = Path(folder)
    return [stem + "[.gz]" for stem in FILES.values()
            if not ((folder / f"{stem}.gz").is_file() or (folder / stem).is_file())]


def read_folder(files: dict[str, Path]) -> dict[str, np.ndarray]:
    """All four arrays, checked: images (n, rows, cols) and labels (n,) with matching counts."""
    arrays = {key: read_idx(path, ndim=3 if key.endswith("images") else 1)
              for key, path in files.items()}
    for split in ("train", "test"):
        n_img, n_lab = len(arrays[f"{split}_images"]), len(arrays[f"{split}_labels"])
        if n_img != n_lab:
            raise DataError(f"{files[split + '_labels']}: {n_lab} labels for {n_img} images in "
                            f"{files[split + '_images']}; the files do not belong together")
    return arrays
