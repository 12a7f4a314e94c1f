"""How a run ended, in words: the ``diagnosis`` that ``training_complete`` and the summaries carry.

Not every failed run fails loudly. A sigmoid network pushed by a huge learning rate (η = 10⁶)
saturates: every neuron sits at 0 or 1, the gradients σ'(z) vanish, nothing becomes NaN, nothing
raises — and the accuracy stays where a constant guess would put it. The diagnosis says so: the run
is *at chance* when its final test accuracy is within three standard errors (at least one point) of
always guessing the most common digit of the test set (11.35 % on MNIST's test set, not 10 %: the
digits are not equally common).
"""

from __future__ import annotations

import math

import numpy as np


def chance_percent(labels) -> float | None:
    """Accuracy (%) of always guessing the most common label of ``labels``; None if empty."""
    labels = np.asarray(labels).reshape(-1)
    if labels.size == 0:
        return None
    return 100.0 * float(np.bincount(labels.astype(np.int64) - labels.min()).max()) / labels.size


def chance_margin(chance: float, n: int) -> float:
    """How far (percentage points) above ``chance`` an accuracy on ``n`` examples still counts as
    chance: three standard errors of a proportion, at least one point."""
    p = chance / 100.0
    return max(1.0, 300.0 * math.sqrt(p * (1.0 - p) / n))


def diagnose(history: list[dict], status: str, labels=None) -> dict:
    """The verdict on a run from its per-epoch ``history`` (as :func:`nnjax.fit` builds it), its
    ``status`` and the evaluation ``labels``: ``at_chance`` (None without an accuracy),
    ``chance_percent``, ``final_accuracy_percent``, ``nonfinite_step`` and a one-line ``message``."""
    accuracies = [h["accuracy_percent"] for h in history if h.get("accuracy_percent") is not None]
    final = accuracies[-1] if accuracies else None
    chance = chance_percent(labels) if labels is not None else None
    at_chance = None
    if final is not None and chance is not None:
        at_chance = bool(final <= chance + chance_margin(chance, np.asarray(labels).size))
    bad_steps = [h["nonfinite_step"] for h in history if h.get("nonfinite_step") is not None]
    nonfinite_step = bad_steps[0] if bad_steps else None

    if status == "nonfinite" or nonfinite_step is not None:
        message = (f"diverged: non-finite loss or gradients at step {nonfinite_step}"
                   + ("; the returned parameters are the last finite ones" if status == "nonfinite"
                      else "; training continued with non-finite parameters")
                   + ". Try a smaller learning rate.")
    elif not history:
        message = f"no epoch completed (status {status})"
    elif final is None:
        message = "no test data, so no accuracy to judge the run by"
    elif at_chance:
        message = (f"accuracy at chance: final {final:.2f} % vs {chance:.2f} % for always guessing the "
                   f"most common digit; the network is not learning (the diagnosis flags say why: "
                   f"saturated or dead units, updates too small or too large — most often the "
                   f"learning rate or the initialisation)")
    else:
        message = f"learning: final accuracy {final:.2f} % (chance {chance:.2f} %)"
    return {"at_chance": at_chance, "chance_percent": chance, "final_accuracy_percent": final,
            "nonfinite_step": nonfinite_step, "message": message}


__all__ = ["chance_percent", "chance_margin", "diagnose"]
