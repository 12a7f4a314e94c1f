"""Why is it stuck? The run summary's flags: small pure rules over the log's records.

:func:`diagnose` reads records as the log holds them (``run_start``, ``epoch_end``, ``mini_batch``
with ``update_stats``, ``probe_stats``) — from a live logger or a parsed JSONL file — and returns a
list of flags. Each flag says what was seen and what to try::

    {"name": "saturated", "layer": 0, "epoch": 0, "value": 1.0, "threshold": 0.9,
     "hint": "..."}

A flag describes the *end* of the run (a network that recovers is not stuck); its ``epoch`` is the
first epoch of the final stretch in which the condition held. The rules:

- ``diverged``: the cost or a gradient became NaN/inf (a ``nonfinite`` record); ``value`` is the
  first bad step. It comes first: the other flags then describe the last finite parameters.
- ``at_chance``: test accuracy no better than always guessing the most common digit of the test
  set, within three standard errors (as :mod:`nnjax.outcome` judges it; 11.35 % + 1 point on
  MNIST), after the last epoch; without an ``evaluation_report``, at most 1.5 × 100/K %.
- ``saturated``: more than 90 % of a sigmoid/tanh layer's units saturated on the probe batch.
- ``dead_units``: more than 50 % of a ReLU layer's units output 0 on every probe image.
  (Both look at the hidden layers and at the output layer, ``layer`` numbering the weight layer.)
- ``update_ratio_low`` / ``update_ratio_high``: the median ‖Δw‖/‖w‖ of a layer over the last
  epoch's logged steps is more than 100× below / above the rule of thumb 1e-3.
"""

from __future__ import annotations

from statistics import median
from typing import Iterable

from nnjax.outcome import chance_margin

CHANCE_FACTOR = 1.5
SATURATION_THRESHOLD = 0.9
DEAD_THRESHOLD = 0.5
UPDATE_RATIO_TARGET = 1e-3
UPDATE_RATIO_LOW = 1e-5
UPDATE_RATIO_HIGH = 1e-1

HINTS = {
    "diverged": "the cost or a gradient became NaN/inf: the steps are too large for this network — "
                "lower the learning rate 10×; check that the inputs are scaled to [0, 1].",
    "at_chance": "the network is guessing: it has not learned. See the other flags for why; most "
                 "often the learning rate is far off — try η between 0.1 and 10, and init='scaled_normal'.",
    "saturated": "most units are pinned near 0 or 1, where σ'(z) ≈ 0 and gradients vanish: lower the "
                 "learning rate, use init='scaled_normal' (N(0, 1/n_in)) or the cross-entropy cost.",
    "dead_units": "most ReLU units output 0 for every image and get no gradient: use init='he' "
                  "instead of N(0, 1), a smaller learning rate, or a softmax/sigmoid output layer.",
    "update_ratio_low": "this layer's weights barely move (‖Δw‖/‖w‖ ≪ 1e-3): its gradients have "
                        "vanished (saturated or dead units) or η is too small — fix those, or raise η.",
    "update_ratio_high": "each step changes this layer's weights by more than 10 % (‖Δw‖/‖w‖ ≫ 1e-3): "
                         "η is too large — lower it 10–100×.",
}


def _flag(name: str, value: float | None, threshold: float | None, epoch: int | None,
          layer: int | None = None) -> dict:
    return {"name": name, "layer": layer, "epoch": epoch, "value": value, "threshold": threshold,
            "hint": HINTS[name]}


def _trailing_start(series: list[tuple[int, float | None]], bad) -> int | None:
    """The first epoch of the final run of epochs where ``bad(value)`` holds (None if the last
    epoch is fine or missing)."""
    start = None
    for epoch, value in reversed(series):
        if value is None or not bad(value):
            break
        start = epoch
    return start


def diagnose(records: Iterable[dict], *, n_classes: int | None = None) -> list[dict]:
    """The flags a run raises (possibly none), from its log records, in a fixed order."""
    records = list(records)
    if n_classes is None:
        start = next((r for r in records if r.get("type") == "run_start"), None)
        sizes = (start or {}).get("config", {}).get("sizes")
        n_classes = int(sizes[-1]) if sizes else 10
    flags: list[dict] = []

    diverged = next((r for r in records if r.get("type") == "nonfinite"), None)
    if diverged is not None:
        flags.append(_flag("diverged", diverged.get("step"), None, diverged.get("epoch")))

    accuracy = [(r["epoch"], r.get("accuracy_percent")) for r in records if r.get("type") == "epoch_end"]
    chance = CHANCE_FACTOR * 100.0 / n_classes
    report = next((r for r in reversed(records) if r.get("type") == "evaluation_report"), None)
    if report and report.get("confusion_matrix") and report.get("n_examples"):
        per_class = [sum(row) for row in report["confusion_matrix"]]
        guess = 100.0 * max(per_class) / report["n_examples"]
        chance = guess + chance_margin(guess, report["n_examples"])
    first = _trailing_start(accuracy, lambda v: v <= chance)
    if first is not None:
        flags.append(_flag("at_chance", accuracy[-1][1], chance, first))

    probes = [r for r in records if r.get("type") == "probe_stats"]
    layers = lambda r: r["hidden_layers"] + ([r["output_layer"]] if r.get("output_layer") else [])  # noqa: E731
    n_layers = len(layers(probes[-1])) if probes else 0
    for layer in range(n_layers):
        for name, key, threshold in (("saturated", "saturated_fraction", SATURATION_THRESHOLD),
                                     ("dead_units", "dead_fraction", DEAD_THRESHOLD)):
            series = [(r["epoch"], layers(r)[layer].get(key) if layer < len(layers(r)) else None)
                      for r in probes]
            first = _trailing_start(series, lambda v, t=threshold: v > t)
            if first is not None:
                flags.append(_flag(name, series[-1][1], threshold, first, layer))

    steps = [r for r in records if r.get("type") == "mini_batch" and r.get("update_stats")]
    if steps:
        epochs = sorted({r["epoch"] for r in steps})
        per_epoch = {}
        for epoch in epochs:
            rows = [r["update_stats"]["weight_update_ratio"] for r in steps if r["epoch"] == epoch]
            per_epoch[epoch] = [median(v for v in col if v is not None) if any(v is not None for v in col)
                                else None for col in zip(*rows)]
        for layer in range(len(per_epoch[epochs[-1]])):
            series = [(e, per_epoch[e][layer] if layer < len(per_epoch[e]) else None) for e in epochs]
            for name, bad, threshold in (("update_ratio_low", lambda v: v < UPDATE_RATIO_LOW, UPDATE_RATIO_LOW),
                                         ("update_ratio_high", lambda v: v > UPDATE_RATIO_HIGH, UPDATE_RATIO_HIGH)):
                first = _trailing_start(series, bad)
                if first is not None:
                    flags.append(_flag(name, series[-1][1], threshold, first, layer))
    return flags


def summary_lines(flags: list[dict]) -> list[str]:
    """One line per flag, for a terminal or a report: ``name (layer l, since epoch e): value vs
    threshold — hint``; a single reassuring line when there are none."""
    if not flags:
        return ["no flags: accuracy above chance, no saturated or dead layer, update ratios near 1e-3"]
    lines = []
    for f in flags:
        where = f" layer {f['layer']}," if f.get("layer") is not None else ""
        value = "n/a" if f["value"] is None else f"{f['value']:.3g}"
        if f.get("threshold") is None:  # an event, not a measure: diverged at a step
            lines.append(f"{f['name']} (epoch {f['epoch']}, step {value}) — {f['hint']}")
            continue
        lines.append(f"{f['name']} ({where} since epoch {f['epoch']}): {value} vs threshold "
                     f"{f['threshold']:.3g} — {f['hint']}".replace("( ", "("))
    return lines


__all__ = ["diagnose", "summary_lines", "HINTS", "CHANCE_FACTOR", "SATURATION_THRESHOLD",
           "DEAD_THRESHOLD", "UPDATE_RATIO_LOW", "UPDATE_RATIO_HIGH"]
