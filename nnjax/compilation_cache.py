"""JAX's persistent compilation cache, switched on by nnjax's front doors.

Every run compiles the same small programs again: ``init_params``, evaluation, the diagnostics
probe, the confusion matrix (≈ 2.5 s of CPU per run on these machines). JAX can keep compiled
programs on disk and load them in later processes (``jax_compilation_cache_dir``). The seed API
(:class:`nnjax.NeuralNetwork`), the ``nnjax`` command and the scripts call :func:`enable` before
anything compiles; the functional API leaves JAX's configuration alone, so call it yourself there.

Programs with a host callback (the logged epoch) are never cached by JAX: they compile every run.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import jax

from nnjax.tfds_source import cache_dir

log = logging.getLogger(__name__)

# compiles shorter than this are not worth a file (JAX's own default is 1 s, which skips ours)
MIN_COMPILE_SECONDS = 0.05


def enable(path: str | os.PathLike | None = None) -> Path | None:
    """Keep compiled programs under ``path`` (default: ``<nnjax cache>/jax``, see
    :func:`nnjax.tfds_source.cache_dir`) and return the folder in use.

    Nothing changes when ``NNJAX_COMPILATION_CACHE=0``, or when a cache folder is set already
    (``JAX_COMPILATION_CACHE_DIR`` or ``jax.config``): then that folder (or None) is returned. An
    unwritable folder is logged and left out; a run never fails for its cache.
    """
    if os.environ.get("NNJAX_COMPILATION_CACHE", "1").strip() == "0":
        return None
    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    folder = Path(path) if path is not None else cache_dir() / "jax"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise PermissionError(f"{folder} is not writable")
    except OSError as exc:
        log.warning("compilation cache left off: %s", exc)
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
    return folder
