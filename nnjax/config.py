"""The configuration of a training run: a frozen dataclass, checked when made.

``TrainConfig`` holds every knob of a run; :meth:`TrainConfig.as_record` is exactly what the log's
``run_start`` records about it. Invalid values raise ``ValueError``/``TypeError`` saying what was
wrong and what is allowed — before any data is touched or anything is compiled.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any, Callable

import optax

from nnjax.activations import ACTIVATIONS
from nnjax.costs import COSTS, OUTPUT_ACTIVATION_OF_COST
from nnjax.initializers import INITIALIZERS
from nnjax.network import check_sizes

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer (1 or more), got {value}")
    return int(value)


def _finite_number(name: str, value, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be greater than 0, got {value}")
    if not positive and value < 0:
        raise ValueError(f"{name} must be 0 or greater, got {value}")
    return value


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. Defaults are the book's chapter 1 network.

    ``activation`` is used by the hidden layers, ``output_activation`` by the last layer (default:
    sigmoid, or softmax with the log-likelihood cost). Functions may be given instead of names.
    ``optimizer`` is a name (``sgd``, ``momentum``, ``nesterov``, ``adam``) built with
    ``learning_rate`` (and ``momentum``), or pass any optax optimizer to :func:`nnjax.fit`.
    ``l2`` is the book's λ (scaled by the training-set size n). ``log_interval`` is N: gradient
    statistics every N mini-batches. ``stop_on_nonfinite`` ends a diverging run at the first NaN/inf.
    ``diagnostics`` (with a logger) adds per-epoch probe statistics, the end-of-run confusion matrix
    and the diagnosis flags to the log (see :mod:`nnjax.diagnostics` and :mod:`nnjax.diagnose`).

    Chapter 3 (``network2.py``): ``init=None`` picks He for a ReLU hidden layer and the book's large
    N(0, 1) otherwise. ``weight_decay`` is plain decoupled weight decay through optax
    (``optax.add_decayed_weights`` chained before the optimizer): with plain SGD,
    ``weight_decay = λ/n`` gives exactly the book's update ``w → (1 − ηλ/n) w − η ∇C₀``, but the
    decay is not part of the cost that is reported. The ``monitor_*`` flags are the book's: cost and
    accuracy on the training data and on the evaluation data after every epoch (training ones cost
    a pass over the whole training set). ``early_stopping_n`` stops when the evaluation accuracy has
    not improved for that many epochs; ``lr_schedule_n`` halves the learning rate each time it has
    not improved for that many epochs and stops once the rate is ``learning_rate / 128``. Both need
    evaluation data; 0 turns them off.
    """

    sizes: tuple = (784, 30, 10)
    activation: Any = "sigmoid"
    output_activation: Any = None
    cost: Any = "quadratic"
    init: Any = None
    learning_rate: float = 3.0
    mini_batch_size: int = 10
    epochs: int = 30
    seed: int = 0
    l2: float = 0.0
    optimizer: str = "sgd"
    momentum: float = 0.9
    log_interval: int = 100
    stop_on_nonfinite: bool = True
    diagnostics: bool = True
    weight_decay: float = 0.0
    monitor_training_cost: bool = False
    monitor_training_accuracy: bool = False
    monitor_evaluation_cost: bool = False
    monitor_evaluation_accuracy: bool = True
    early_stopping_n: int = 0
    lr_schedule_n: int = 0
    # the fields given as None and derived in __post_init__ (init, output_activation): replace()
    # derives them again from the new values unless they are changed too
    _derived: frozenset = dataclasses.field(default=frozenset(), init=False, repr=False, compare=False)

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 - frozen dataclass
        set_("sizes", tuple(check_sizes(self.sizes)))
        ACTIVATIONS.get(self.activation)
        COSTS.get(self.cost)
        derived = set()
        if self.init is None:  # the sensible default: He for ReLU, the book's N(0, 1) otherwise
            set_("init", "he" if ACTIVATIONS.name_of(self.activation) == "relu" else "normal")
            derived.add("init")
        INITIALIZERS.get(self.init)
        if self.output_activation is None:
            set_("output_activation",
                 OUTPUT_ACTIVATION_OF_COST.get(COSTS.name_of(self.cost), "sigmoid"))
            derived.add("output_activation")
        set_("_derived", frozenset(derived))
        ACTIVATIONS.get(self.output_activation)
        set_("learning_rate", _finite_number("learning_rate", self.learning_rate, positive=True))
        set_("mini_batch_size", _positive_int("mini_batch_size", self.mini_batch_size))
        set_("epochs", _positive_int("epochs", self.epochs))
        set_("log_interval", _positive_int("log_interval", self.log_interval))
        set_("l2", _finite_number("l2", self.l2, positive=False))
        set_("momentum", _finite_number("momentum", self.momentum, positive=False))
        set_("weight_decay", _finite_number("weight_decay", self.weight_decay, positive=False))
        for name in ("early_stopping_n", "lr_schedule_n"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{name} must be a whole number of epochs, 0 (off) or more, "
                                 f"got {value!r}")
            set_(name, int(value))
        for name in ("monitor_training_cost", "monitor_training_accuracy",
                     "monitor_evaluation_cost", "monitor_evaluation_accuracy"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, numbers.Integral):
            raise TypeError(f"seed must be an integer, got {self.seed!r}")
        if self.seed < 0:  # JAX's PRNG keys take 0 … 2**32 - 1
            raise ValueError(f"seed must be 0 or greater, got {self.seed}")
        if not isinstance(self.optimizer, str) or self.optimizer.lower() not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; allowed: {', '.join(OPTIMIZERS)} "
                             f"(or pass an optax optimizer to fit(..., optimizer=...))")
        set_("optimizer", self.optimizer.lower())
        if not isinstance(self.diagnostics, bool):
            raise TypeError(f"diagnostics must be True or False, got {self.diagnostics!r}")

    def replace(self, **changes) -> "TrainConfig":
        """A copy with ``changes``. Fields this configuration derived (``init`` and
        ``output_activation`` left as None) are derived again from the new values: replacing the
        activation of a default config by ``relu`` gives He init, as ``TrainConfig(activation=
        "relu")`` would (``dataclasses.replace`` would keep the old derived value)."""
        return dataclasses.replace(self, **{**{name: None for name in self._derived}, **changes})

    def build_optimizer(self) -> optax.GradientTransformation:
        """The optax optimizer this configuration names, with ``weight_decay`` chained before it.

        With ``lr_schedule_n`` the learning rate is an injected hyperparameter
        (``optax.inject_hyperparams``): :func:`nnjax.schedule.set_learning_rate` changes it between
        epochs without recompiling the epoch.
        """
        def make(learning_rate):
            if self.optimizer == "sgd":
                tx = optax.sgd(learning_rate)
            elif self.optimizer in ("momentum", "nesterov"):
                tx = optax.sgd(learning_rate, momentum=self.momentum,
                               nesterov=self.optimizer == "nesterov")
            else:
                tx = optax.adam(learning_rate)
            return with_weight_decay(tx, self.weight_decay)

        if self.lr_schedule_n:
            return optax.inject_hyperparams(make)(learning_rate=self.learning_rate)
        return make(self.learning_rate)

    def as_record(self) -> dict:
        """The configuration as plain JSON values (functions by name), as the log records it."""
        record = dataclasses.asdict(self)
        del record["_derived"]
        record["sizes"] = list(self.sizes)
        for key, registry in (("activation", ACTIVATIONS), ("output_activation", ACTIVATIONS),
                              ("cost", COSTS), ("init", INITIALIZERS)):
            record[key] = registry.name_of(getattr(self, key))
        return record


def with_weight_decay(tx: optax.GradientTransformation,
                      weight_decay: float) -> optax.GradientTransformation:
    """``tx`` preceded by ``optax.add_decayed_weights(weight_decay)`` (``tx`` itself if 0).

    The decay adds ``weight_decay · w`` to the gradient before ``tx`` scales it, so with plain SGD
    ``w → w − η (∇C + weight_decay · w) = (1 − η · weight_decay) w − η ∇C``: the book's L2 update
    with ``weight_decay = λ / n``. Biases are decayed too unless masked; the book leaves them alone,
    so only weights (the ``w`` of each layer) are decayed here.
    """
    if not weight_decay:
        return tx
    return optax.chain(optax.add_decayed_weights(weight_decay, mask=_weights_only), tx)


def _weights_only(params):
    """The decay mask: True for each layer's ``w``, False for its ``b`` (other pytrees: all True)."""
    import jax

    from nnjax.network import Layer

    if isinstance(params, list) and all(isinstance(layer, Layer) for layer in params):
        return [Layer(True, False) for _ in params]
    return jax.tree_util.tree_map(lambda _: True, params)


def describe_optimizer(optimizer: optax.GradientTransformation | None, config: TrainConfig) -> dict:
    """What the log says about the optimizer actually used."""
    if optimizer is None:
        out = {"name": config.optimizer, "learning_rate": config.learning_rate}
        if config.optimizer in ("momentum", "nesterov"):
            out["momentum"] = config.momentum
        if config.weight_decay:
            out["weight_decay"] = config.weight_decay
        return out
    return {"name": "custom", "repr": _short_repr(optimizer)}


def _short_repr(obj: Callable | Any) -> str:
    text = repr(obj)
    return text if len(text) < 200 else text[:197] + "..."
