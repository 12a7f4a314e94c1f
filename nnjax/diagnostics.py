"""Why is it stuck? Per-epoch diagnostics on a fixed probe batch, and the end-of-run evaluation.

Pure functions of the parameters and a batch, each jitted once per run (the batch and the bin
edges are arguments, so new values never recompile):

- :func:`make_probe_stats` → ``probe(params, x, labels, weight_edges, grad_edges)``: per hidden
  layer the mean and std of its activations on the probe images, the fraction of saturated outputs
  (sigmoid/tanh: within ``saturation_distance`` of a bound of the output range) and the fraction of
  dead units (ReLU: output 0 on *every* probe image, so the unit gets no gradient from any of them);
  per weight layer a histogram of the weights and one of |∂C/∂w| on the probe batch.
- :func:`make_confusion` → ``confusion(params, images, labels)``: the 10×10 confusion matrix (rows
  the true digit, columns the prediction) and every prediction.

Histograms use bins fixed for the whole run so that epochs compare: weights get linear bins
symmetric around 0, ±2 × the largest |w| of that layer at the start (:func:`weight_bin_edges`);
gradients get bins in log10 |g| from 1e-12 to 1e2 (:data:`GRAD_LOG10_EDGES`), because gradients
that vanish do so over orders of magnitude. Values outside the bins are counted as ``below`` and
``above``, exact zeros of the gradient as ``zeros`` — nothing is dropped silently.

In a logged run :class:`RunDiagnostics` puts :func:`probe_stats` inside the compiled epoch (its
``epoch_stats``, see :func:`nnjax.train.make_train_epoch`): it runs on the parameters the epoch ends
with, and its small result leaves through the epoch's ordered host callback, after the epoch's last
``mini_batch`` row.
"""

from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from nnjax import network
from nnjax.activations import BOUNDS, SATURATION_DISTANCE, get_activation
from nnjax.costs import get_cost
from nnjax.network import Params

# SATURATION_DISTANCE (0.01, from nnjax.activations): a sigmoid/tanh output within it of a bound
# of its range counts as saturated (sigmoid: a < 0.01 or a > 0.99, i.e. |z| > 4.6, σ'(z) < 0.01).
SATURATED_UNIT_SHARE = 0.99
"""A *unit* counts as saturated when its output is saturated on at least this share of the probe
images: it then says the same thing about (nearly) every image and its weights barely learn.
(Single outputs saturate often in a healthy sigmoid network — ~85 % in the book's main job — so
the flag looks at units.)"""
PROBE_SIZE = 1000
WEIGHT_BINS = 40
GRAD_LOG10_EDGES = np.linspace(-12.0, 2.0, 29).astype(np.float32)
"""Edges of the gradient histograms, in log10 |∂C/∂w| (half a decade per bin)."""

DEAD_RULE = "output <= 0 on every probe image"


def saturation_rule(name: str, distance: float = SATURATION_DISTANCE) -> str | None:
    """The stated rule for "saturated" for activation ``name`` (None if it has no bounded range)."""
    if name not in BOUNDS:
        return None
    lo, hi = BOUNDS[name]
    return (f"unit output < {lo + distance:g} or > {hi - distance:g} (within {distance:g} of its "
            f"bounds) on at least {100 * SATURATED_UNIT_SHARE:g} % of the probe images")


def weight_bin_edges(params: Params, n_bins: int = WEIGHT_BINS, margin: float = 2.0) -> np.ndarray:
    """Fixed histogram edges per weight layer, shape (L, n_bins + 1): linear, symmetric around 0,
    ±``margin`` × the largest |w| of the layer in ``params`` (call it once, on the initial weights)."""
    edges = []
    for layer in params:
        top = float(np.max(np.abs(np.asarray(layer.w)))) if np.size(layer.w) else 0.0
        top = margin * top if np.isfinite(top) and top > 0 else 1.0
        edges.append(np.linspace(-top, top, n_bins + 1, dtype=np.float32))
    return np.stack(edges)


def histogram(values: jax.Array, edges: jax.Array) -> dict[str, jax.Array]:
    """Counts of ``values`` in the evenly spaced bins ``edges`` (n + 1,), left-closed like NumPy's,
    the last bin closed; plus ``below`` (< first edge, −inf included), ``above`` (> last edge) and
    ``nan``. The bin is found by arithmetic, then moved by one where rounding put a value on the
    wrong side of an edge, so the counts are exact (as a search of ``edges`` would give); it compiles
    in half the time of ``jnp.searchsorted``, which matters because the logged epoch that holds it is
    compiled on every run."""
    values = values.reshape(-1)
    n = edges.shape[0] - 1
    guess = jnp.floor((values - edges[0]) * (n / (edges[-1] - edges[0])))
    guess = jnp.clip(jnp.where(jnp.isnan(values), 0, guess), 0, n - 1).astype(jnp.int32)
    idx = guess - (values < edges[guess]) + (values >= edges[guess + 1])
    idx = jnp.where(values == edges[-1], n - 1, idx)
    inside = (values >= edges[0]) & (values <= edges[-1])
    counts = jnp.zeros(n, jnp.int32).at[jnp.clip(idx, 0, n - 1)].add(inside.astype(jnp.int32))
    return {"counts": counts, "below": jnp.sum(values < edges[0]).astype(jnp.int32),
            "above": jnp.sum(values > edges[-1]).astype(jnp.int32),
            "nan": jnp.sum(jnp.isnan(values)).astype(jnp.int32)}


def probe_stats(params: Params, x: jax.Array, labels: jax.Array, weight_edges: jax.Array,
                grad_edges: jax.Array, *, activation, output_activation, cost,
                activation_names: Sequence[str],
                saturation_distance: float = SATURATION_DISTANCE) -> dict:
    """Everything measured on the probe batch ``x`` (n, n_in) with integer ``labels`` (n,).

    ``activation_names`` names each layer's activation (hidden layers, then the output layer).
    Returns ``{"layers": {...}, "weight_hist": [...], "grad_hist": [...]}``: ``layers`` holds arrays
    of shape (L,), one value per layer after the input (the last is the output layer) — ``activation_mean``, ``activation_std``, ``saturated_fraction`` (share of
    units saturated on ≥ :data:`SATURATED_UNIT_SHARE` of the images), ``saturated_output_fraction``
    (share of (image, unit) outputs that are saturated; both 0 for unbounded activations),
    ``dead_fraction`` (share of units ≤ 0 on every probe image) —, the histograms one dict per
    weight layer.
    """
    acts = network.all_activations(params, x, activation, output_activation)[1:]
    means, stds, saturated, saturated_out, dead = [], [], [], [], []
    for a, name in zip(acts, activation_names):
        bounds = BOUNDS.get(name)
        means.append(jnp.mean(a))
        stds.append(jnp.std(a))
        if bounds is None:
            saturated.append(jnp.float32(0.0))
            saturated_out.append(jnp.float32(0.0))
        else:
            lo, hi = bounds
            sat = ((a < lo + saturation_distance) | (a > hi - saturation_distance)).astype(jnp.float32)
            saturated_out.append(jnp.mean(sat))
            per_unit = jnp.mean(sat, axis=0)
            saturated.append(jnp.mean((per_unit >= SATURATED_UNIT_SHARE).astype(jnp.float32)))
        dead.append(jnp.mean(jnp.all(a <= 0.0, axis=0).astype(jnp.float32)))
    stack = lambda xs: jnp.stack(xs) if xs else jnp.zeros((0,), jnp.float32)  # noqa: E731
    per_layer = {"activation_mean": stack(means), "activation_std": stack(stds),
              "saturated_fraction": stack(saturated),
              "saturated_output_fraction": stack(saturated_out), "dead_fraction": stack(dead)}

    y = jax.nn.one_hot(labels, params[-1].w.shape[0], dtype=x.dtype)
    grads = jax.grad(lambda p: network.loss(p, x, y, activation=activation,
                                            output_activation=output_activation, cost=cost))(params)
    weight_hist = [histogram(layer.w, weight_edges[i]) for i, layer in enumerate(params)]
    grad_hist = []
    for g in grads:
        mag = jnp.abs(g.w)
        zeros = jnp.sum(mag == 0).astype(jnp.int32)
        # exact zeros go to log10 = -inf, i.e. "below": count them apart instead
        h = histogram(jnp.log10(jnp.where(mag > 0, mag, 0.0)), grad_edges)
        h["below"] = h["below"] - zeros
        h["zeros"] = zeros
        grad_hist.append(h)
    return {"layers": per_layer, "weight_hist": weight_hist, "grad_hist": grad_hist}


def _probe(activation, output_activation, cost, saturation_distance=SATURATION_DISTANCE):
    """The unjitted ``probe(params, x, labels, weight_edges, grad_edges)`` and ``names_for(L)``,
    the activation names of an L-layer network's layers (hidden ones, then the output)."""
    from nnjax.activations import ACTIVATIONS

    act_fn = get_activation(activation)
    out_fn = act_fn if output_activation is None else get_activation(output_activation)
    hidden_name, output_name = ACTIVATIONS.name_of(act_fn), ACTIVATIONS.name_of(out_fn)
    cost_fn = get_cost(cost)

    def names_for(n_layers: int) -> list[str]:
        return [hidden_name] * (n_layers - 1) + [output_name]

    def probe(params, x, labels, weight_edges, grad_edges):
        return probe_stats(params, x, labels, weight_edges, grad_edges, activation=act_fn,
                           output_activation=out_fn, cost=cost_fn,
                           activation_names=names_for(len(params)),
                           saturation_distance=saturation_distance)

    return probe, names_for


def make_probe_stats(*, activation="sigmoid", output_activation=None, cost="quadratic",
                     saturation_distance: float = SATURATION_DISTANCE):
    """Jitted ``probe(params, x, labels, weight_edges, grad_edges) -> dict`` (see :func:`probe_stats`).
    ``activation`` is the hidden layers' activation (a name, or a registered function)."""
    return jax.jit(_probe(activation, output_activation, cost, saturation_distance)[0])


def probe_record_fields(result: dict, *, weight_edges: np.ndarray, grad_edges: np.ndarray,
                        activation_names: Sequence[str], probe_size: int,
                        saturation_distance: float = SATURATION_DISTANCE) -> dict:
    """Host side: the ``probe_stats`` record's fields from a :func:`probe_stats` result (NumPy)."""
    values = {k: np.asarray(v).tolist() for k, v in result["layers"].items()}
    layers = []
    for i, name in enumerate(activation_names):
        bounded, is_relu = name in BOUNDS, name == "relu"
        layers.append({"layer": i, "activation": name,
                       "activation_mean": values["activation_mean"][i],
                       "activation_std": values["activation_std"][i],
                       "saturated_fraction": values["saturated_fraction"][i] if bounded else None,
                       "saturated_output_fraction": (values["saturated_output_fraction"][i]
                                                     if bounded else None),
                       "dead_fraction": values["dead_fraction"][i] if is_relu else None})
    activation_name = next((n for n in activation_names if n in BOUNDS), activation_names[0])
    weights = [{"layer": i, "edges": np.asarray(weight_edges[i]).tolist(),
                **{k: np.asarray(v).tolist() for k, v in h.items()}}
               for i, h in enumerate(result["weight_hist"])]
    gradients = [{"layer": i, "scale": "log10_abs", "edges": np.asarray(grad_edges).tolist(),
                  **{k: np.asarray(v).tolist() for k, v in h.items()}}
                 for i, h in enumerate(result["grad_hist"])]
    return {"probe_size": probe_size, "saturation_distance": saturation_distance,
            "saturation_rule": saturation_rule(activation_name, saturation_distance),
            "dead_rule": DEAD_RULE if "relu" in activation_names else None,
            "hidden_layers": layers[:-1], "output_layer": layers[-1],
            "weight_histograms": weights, "gradient_histograms": gradients}


def choose_probe(n: int, size: int = PROBE_SIZE, *, seed: int = 0) -> np.ndarray:
    """Indices of a fixed probe batch: ``size`` of ``range(n)`` drawn without replacement by a NumPy
    generator of its own (the training's JAX keys are untouched), sorted."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x9E0BE]))
    return np.sort(rng.choice(n, size=min(size, n), replace=False))


def make_confusion(*, activation="sigmoid", output_activation=None):
    """Jitted ``confusion(params, images, labels) -> (matrix (K, K) int32, predictions (n,))``:
    ``matrix[i, j]`` counts images of true class i predicted as j."""
    act_fn = get_activation(activation)
    out_fn = act_fn if output_activation is None else get_activation(output_activation)

    @jax.jit
    def confusion(params, images, labels):
        k = params[-1].w.shape[0]
        pred = network.predict(params, images, act_fn, out_fn)
        matrix = jnp.zeros((k, k), jnp.int32).at[labels, pred].add(1)
        return matrix, pred

    return confusion


def evaluation_fields(matrix, predictions, labels: Sequence[int]) -> dict:
    """Host side: the ``evaluation_report`` record's fields."""
    matrix = np.asarray(matrix)
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    wrong = np.flatnonzero(predictions != labels)
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    return {"n_examples": int(labels.size), "correct": int(labels.size - wrong.size),
            "confusion_matrix": matrix.tolist(), "per_class_accuracy": per_class.tolist(),
            "misclassified_indices": wrong.tolist(),
            "misclassified_labels": labels[wrong].tolist(),
            "misclassified_predictions": predictions[wrong].tolist()}


__all__ = ["SATURATION_DISTANCE", "PROBE_SIZE", "GRAD_LOG10_EDGES", "saturation_rule",
           "weight_bin_edges", "histogram", "probe_stats", "make_probe_stats",
           "probe_record_fields", "choose_probe", "make_confusion", "evaluation_fields",
           "RunDiagnostics"]


class RunDiagnostics:
    """The diagnostics of one run: the probe batch and the histogram bins, fixed at the start.
    :meth:`stats` is traced inside the compiled epoch on its final parameters (with
    :attr:`inputs`, the probe batch and bins on the device, as its argument); :meth:`record_fields`
    turns its result, on the host, into a ``probe_stats`` record's fields. :meth:`evaluation_fields`
    gives the ``evaluation_report``'s (one compiled call at the end of the run).

    ``probe`` is a :class:`nnjax.data.Dataset`; :data:`PROBE_SIZE` of its images are chosen once
    with ``seed`` (all of them if it is smaller).
    """

    def __init__(self, config, params: Params, probe, *, source: str = "training_data"):
        self._probe, names_for = _probe(config.activation, config.output_activation, config.cost)
        self.activation_names = names_for(len(params))
        self.confusion_fn = make_confusion(activation=config.activation,
                                           output_activation=config.output_activation)
        idx = choose_probe(len(probe), PROBE_SIZE, seed=config.seed)
        self.source, self.size = source, int(idx.size)
        self.weight_edges = weight_bin_edges(params)
        self.grad_edges = GRAD_LOG10_EDGES
        self.inputs = jax.device_put({"x": np.asarray(probe.images)[idx],
                                      "labels": np.asarray(probe.labels)[idx],
                                      "weight_edges": self.weight_edges,
                                      "grad_edges": self.grad_edges})

    def stats(self, params: Params, inputs: dict) -> dict:
        """:func:`probe_stats` of ``params`` on ``inputs`` (:attr:`inputs`); traceable."""
        return self._probe(params, inputs["x"], inputs["labels"], inputs["weight_edges"],
                           inputs["grad_edges"])

    def record_fields(self, result: dict) -> dict:
        """Host side: a ``probe_stats`` record's fields from a :meth:`stats` result (NumPy)."""
        return {"probe_source": self.source,
                **probe_record_fields(result, weight_edges=self.weight_edges,
                                      grad_edges=self.grad_edges, activation_names=self.activation_names,
                                      probe_size=self.size)}

    def evaluation_fields(self, params: Params, images, labels) -> dict:
        matrix, predictions = jax.device_get(self.confusion_fn(params, images, labels))
        return evaluation_fields(matrix, predictions, np.asarray(labels))
