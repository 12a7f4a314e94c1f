"""The seed's questions as sweeps: which learning rate, how many hidden neurons, which activation.

Each question is a list of configurations (:func:`configurations`) and an answer
(:func:`answer`): per value of the knob in question, the accuracy after the first epoch (how fast
it learns), the best accuracy and its epoch (when it stopped improving), averaged over seeds;
then which value won and by how much. ``scripts/sweep_*.py`` run them
(:func:`nnjax.sweep_cli.question_main`).

Defaults that let each activation learn: sigmoid as in the book (N(0, 1) init, η = 3); tanh with
the N(0, 1/n_in) init and η = 0.5; ReLU hidden layers with He init, a sigmoid output layer and
η = 0.3 (with ReLU on the output, N(0, 1) init and η = 3 it sits at chance — the set-up, not ReLU).
All with the book's quadratic cost and mini-batch 10.
"""

from __future__ import annotations

import statistics

from nnjax.config import TrainConfig
from nnjax.sweep import SweepResult, grid

LEARNING_RATES = (0.1, 0.3, 1.0, 3.0, 10.0)
HIDDEN_SIZES = (10, 30, 100)
ACTIVATION_DEFAULTS = {
    "sigmoid": {"activation": "sigmoid", "output_activation": "sigmoid", "init": "normal",
                "learning_rate": 3.0},
    "tanh": {"activation": "tanh", "output_activation": "sigmoid", "init": "scaled_normal",
             "learning_rate": 0.5},
    "relu": {"activation": "relu", "output_activation": "sigmoid", "init": "he", "learning_rate": 0.3},
}
QUESTIONS = {
    "learning_rate": "What learning rate works best?",
    "hidden": "How many hidden neurons?",
    "activation": "Does sigmoid, tanh or ReLU learn faster?",
}


def configurations(question: str, base: TrainConfig, seeds=(0,)) -> list[TrainConfig]:
    """The runs that answer ``question`` (a key of :data:`QUESTIONS`), one per value and seed."""
    if question == "learning_rate":
        return grid(base, learning_rate=list(LEARNING_RATES), seed=list(seeds))
    if question == "hidden":
        return grid(base, hidden=list(HIDDEN_SIZES), seed=list(seeds))
    if question == "activation":
        return [base.replace(seed=s, **defaults) for defaults in ACTIVATION_DEFAULTS.values()
                for s in seeds]
    raise ValueError(f"unknown question {question!r}; allowed: {', '.join(QUESTIONS)}")


def _value(question: str, config: TrainConfig):
    if question == "hidden":
        return config.sizes[1:-1][0] if len(config.sizes) == 3 else config.sizes[1:-1]
    return getattr(config, question) if question != "activation" else config.as_record()["activation"]


def answer(question: str, result: SweepResult) -> dict:
    """Per value of the knob: mean (over seeds) accuracy after epoch 1, mean best accuracy, mean
    epoch of the best, mean epoch time; the winner and its margin over the runner-up (mean best
    accuracy). Runs without test accuracy are left out."""
    per_value: dict = {}
    for config, run in zip(result.configs, result.runs):
        accs = [h["accuracy_percent"] for h in (run.history if run else [])
                if h.get("accuracy_percent") is not None]
        if not accs:
            continue
        best = max(accs)
        entry = per_value.setdefault(_value(question, config), {"first": [], "best": [], "epoch": [],
                                                               "seconds": []})
        entry["first"].append(accs[0])
        entry["best"].append(best)
        entry["epoch"].append(accs.index(best))
        entry["seconds"].append(statistics.median(h["duration_seconds"] for h in run.history))
    rows = [{"value": v, "after_epoch_1": statistics.mean(e["first"]), "best": statistics.mean(e["best"]),
             "best_min": min(e["best"]), "best_max": max(e["best"]), "epoch_of_best": statistics.mean(e["epoch"]),
             "epoch_seconds": statistics.mean(e["seconds"]), "runs": len(e["best"])}
            for v, e in per_value.items()]
    ranked = sorted(rows, key=lambda r: -r["best"])
    out = {"question": QUESTIONS[question], "rows": rows, "winner": ranked[0] if ranked else None,
           "runner_up": ranked[1] if len(ranked) > 1 else None}
    out["margin"] = (ranked[0]["best"] - ranked[1]["best"]) if len(ranked) > 1 else None
    fastest = sorted(rows, key=lambda r: -r["after_epoch_1"])
    out["fastest_start"] = fastest[0] if fastest else None
    return out


def format_answer(question: str, result: SweepResult) -> str:
    """:func:`answer` as a small table and two sentences."""
    a = answer(question, result)
    name = {"learning_rate": "η", "hidden": "hidden", "activation": "activation"}[question]
    lines = [a["question"],
             f"{name:>10}  {'epoch 1 %':>9}  {'best %':>7}  {'range':>13}  {'best at':>7}  {'s/epoch':>7}"]
    for r in a["rows"]:
        lines.append(f"{r['value']!s:>10}  {r['after_epoch_1']:9.2f}  {r['best']:7.2f}  "
                     f"{r['best_min']:6.2f}–{r['best_max']:6.2f}  {r['epoch_of_best'] + 1:7.1f}  "
                     f"{r['epoch_seconds']:7.2f}")
    if a["winner"] is None:
        lines.append("no run has an accuracy: nothing to rank")
        return "\n".join(lines)
    w, second = a["winner"], a["runner_up"]
    text = f"answer: {name} = {w['value']} wins with {w['best']:.2f} % (mean best over {w['runs']} seed(s))"
    if second:
        text += f", {a['margin']:.2f} points ahead of {second['value']} ({second['best']:.2f} %)"
    lines.append(text)
    f = a["fastest_start"]
    lines.append(f"fastest start: {name} = {f['value']}, {f['after_epoch_1']:.2f} % after one epoch")
    lines.append("(best at: epoch, counting from 1, where the accuracy peaked — where it stopped improving)")
    return "\n".join(lines)


__all__ = ["QUESTIONS", "configurations", "answer", "format_answer", "LEARNING_RATES",
           "HIDDEN_SIZES", "ACTIVATION_DEFAULTS"]
