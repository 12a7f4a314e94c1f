"""Early stopping and the book's learning-rate schedule, as pure functions of an accuracy history.

Chapter 3 of the book stops training by the *no-improvement-in-n-epochs* rule: keep the best
evaluation (validation) accuracy seen so far; when ``n`` epochs in a row fail to beat it, stop.
Its learning-rate schedule uses the same rule to *halve* η instead, and stops once η has fallen to
η₀/128. Both are decided here from the list of evaluation accuracies so far (one per epoch), so they
can be checked on a made-up sequence; :func:`nnjax.fit` calls them between epochs.

"Improvement" means strictly better than the best so far, as in ``network2.py``: a tie does not
reset the count.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import jax.numpy as jnp


def epochs_without_improvement(accuracies: Sequence[float]) -> int:
    """How many epochs have passed since the best accuracy (its first occurrence) was reached.

    ``[90, 92, 91, 92]`` → 2: epoch 1 set the best; epochs 2 and 3 did not beat it.
    """
    if not accuracies:
        return 0
    best = max(accuracies)
    return len(accuracies) - 1 - list(accuracies).index(best)


def should_stop_early(accuracies: Sequence[float], n: int) -> bool:
    """The book's early stopping: True once ``n`` epochs in a row have not improved on the best
    accuracy so far (``n = 0``: never)."""
    return n > 0 and epochs_without_improvement(accuracies) >= n


class ScheduleDecision(NamedTuple):
    """What the schedule says after the epochs seen: the learning rate for the next epoch, how many
    times it has been halved, whether the last epoch triggered a halving, and whether to stop."""

    learning_rate: float
    halvings: int
    changed: bool
    stop: bool


def halving_schedule(accuracies: Sequence[float], *, learning_rate: float, n: int,
                     factor: float = 0.5, min_fraction: float = 1 / 128) -> ScheduleDecision:
    """The book's schedule replayed over ``accuracies``: each time ``n`` epochs in a row fail to
    beat the best accuracy so far, multiply η by ``factor`` (½) and start counting again; stop
    once η ≤ ``min_fraction`` · η₀ (η₀/128, after seven halvings).

    Returns the :class:`ScheduleDecision` after the last epoch in ``accuracies``.
    """
    if n <= 0:
        raise ValueError(f"the schedule needs a patience n of 1 epoch or more, got {n}")
    best, count, halvings, changed = None, 0, 0, False
    for accuracy in accuracies:
        changed = False
        if best is None or accuracy > best:
            best, count = accuracy, 0
        else:
            count += 1
        if count >= n:
            halvings, count, changed = halvings + 1, 0, True
    rate = learning_rate * factor ** halvings
    return ScheduleDecision(rate, halvings, changed, rate <= learning_rate * min_fraction * (1 + 1e-9))


def find_learning_rate(opt_state) -> float | None:
    """The learning rate held in an ``optax.inject_hyperparams`` state (searched through chains);
    None if the optimizer has no injected learning rate."""
    state = _injected(opt_state)
    return None if state is None else float(state.hyperparams["learning_rate"])


def set_learning_rate(opt_state, learning_rate: float):
    """``opt_state`` with its injected learning rate set to ``learning_rate`` (same dtype and shape,
    so the compiled epoch is reused). Raises ``ValueError`` if the optimizer has none: build it with
    ``optax.inject_hyperparams`` (as ``TrainConfig(lr_schedule_n=...)`` does)."""
    state = _injected(opt_state)
    if state is None:
        raise ValueError("the learning-rate schedule needs an optimizer whose learning rate is an "
                         "injected hyperparameter: optax.inject_hyperparams(optax.sgd)(learning_rate=...)")
    old = state.hyperparams["learning_rate"]
    state.hyperparams["learning_rate"] = jnp.asarray(learning_rate, dtype=jnp.asarray(old).dtype)
    return opt_state


def _injected(state):
    if hasattr(state, "hyperparams") and isinstance(state.hyperparams, dict) \
            and "learning_rate" in state.hyperparams:
        return state
    if isinstance(state, (tuple, list)):
        for item in state:
            found = _injected(item)
            if found is not None:
                return found
    return None


__all__ = ["epochs_without_improvement", "should_stop_early", "ScheduleDecision", "halving_schedule",
           "find_learning_rate", "set_learning_rate"]
