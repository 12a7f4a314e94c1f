"""Save and load a trained network — parameters and configuration — without pickle.

The book's ``network2.py`` saves a network as JSON. nnjax writes one ``.npz`` file (NumPy's zip of
arrays): the weights and biases as float32 arrays ``w0, b0, w1, b1, ...`` and, as a text entry
``config_json``, the configuration as JSON (``TrainConfig.as_record()``). Loading uses
``np.load(..., allow_pickle=False)``, so a file cannot run code; the arrays come back bit for bit,
so a loaded network predicts exactly what the saved one did. The configuration can be read by
hand::

    import json, numpy as np
    json.loads(str(np.load("net.npz")["config_json"]))
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from nnjax.config import TrainConfig
from nnjax.network import Layer, Params, layer_sizes

FORMAT = "nnjax-network"
FORMAT_VERSION = 1


def save(path: str | os.PathLike, params: Params, config: TrainConfig | None = None) -> Path:
    """Write ``params`` (and ``config``, if given) to ``path`` (``.npz`` is appended if missing).

    Functions given by name in ``config`` are stored by name; a custom function is stored by its
    ``__name__`` and must be passed again when loading. Returns the path written.
    """
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "sizes": layer_sizes(params),
            "config": config.as_record() if config is not None else None}
    arrays = {}
    for i, layer in enumerate(params):
        arrays[f"w{i}"] = np.asarray(layer.w, dtype=np.float32)
        arrays[f"b{i}"] = np.asarray(layer.b, dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez(f, config_json=np.asarray(json.dumps(meta)), **arrays)
    return path


def load(path: str | os.PathLike, **config_overrides) -> tuple[Params, TrainConfig | None]:
    """Read a file written by :func:`save`: ``(params, config)`` (``config`` None if none was saved).

    ``config_overrides`` replace saved configuration fields, e.g. ``activation=my_fn`` for a custom
    function. Raises ``ValueError`` for a file that is not an nnjax network or whose arrays do not
    match its recorded layer sizes, ``FileNotFoundError`` for a missing file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved network at {path}" + (
            f" (did you mean {path.name}.npz? save() adds .npz)"
            if path.suffix != ".npz" and path.with_name(path.name + ".npz").is_file() else ""))
    try:
        with np.load(path, allow_pickle=False) as data:
            contents = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path} is not a network saved by nnjax (not a readable .npz file of "
                         f"arrays: {exc})") from exc
    if "config_json" not in contents:
        raise ValueError(f"{path} is not an nnjax network file (no config_json entry)")
    meta = json.loads(str(contents["config_json"]))
    if meta.get("format") != FORMAT or meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported format {meta.get('format')!r} version "
                         f"{meta.get('format_version')!r}; this nnjax reads {FORMAT} up to "
                         f"version {FORMAT_VERSION}")
    sizes = meta["sizes"]
    params = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w, b = contents.get(f"w{i}"), contents.get(f"b{i}")
        if w is None or b is None or w.shape != (n_out, n_in) or b.shape != (n_out,):
            raise ValueError(f"{path}: layer {i} should have w {(n_out, n_in)} and b {(n_out,)}, "
                             f"found {None if w is None else w.shape} and {None if b is None else b.shape}")
        params.append(Layer(jnp.asarray(w), jnp.asarray(b)))
    config = None
    if meta.get("config") is not None or config_overrides:
        fields = {f.name for f in dataclasses.fields(TrainConfig) if f.init}
        record = {k: v for k, v in (meta.get("config") or {}).items() if k in fields}
        if isinstance(record.get("optimizer"), dict):  # as the log writes it
            record["optimizer"] = record["optimizer"].get("name", "sgd")
        record.setdefault("sizes", sizes)
        record.update(config_overrides)
        config = TrainConfig(**record)
    return params, config


__all__ = ["save", "load", "FORMAT", "FORMAT_VERSION"]
