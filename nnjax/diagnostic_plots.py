"""Pictures for "why is it stuck?": the diagnostics of one run, drawn from its log records.

Every function takes the run's records — a list of dicts as the JSONL holds them, or a path to a
log file (see :func:`run_records`) — and returns a ``matplotlib.figure.Figure`` made without
``pyplot`` (nothing stays open; save with ``fig.savefig``; in Jupyter run ``%matplotlib inline``
once and a returned figure is shown).

1. :func:`histograms_figure` — per layer, the histogram of the weights (or of log10 |∂C/∂w| on
   the probe batch) at every epoch as a heatmap: epochs left to right, the run's fixed bins bottom
   to top. Values outside the bins are counted in the title.
2. :func:`saturation_figure` — per layer, the share of saturated units (sigmoid/tanh) and of dead
   units (ReLU) per epoch, with the flag thresholds.
3. :func:`update_ratio_figure` — per layer ‖Δw‖/‖w‖ and ‖∂C/∂w‖ at every logged step, log scale,
   with the 1e-3 rule of thumb and the flag band.
4. :func:`confusion_figure` — the test set's confusion matrix.
5. :func:`misclassified_figure` — a gallery of misclassified test digits, true → predicted
   (needs the test images: the log holds only their indices).

:func:`save_diagnostic_figures` writes them all as PNGs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from nnjax.diagnose import (DEAD_THRESHOLD, SATURATION_THRESHOLD, UPDATE_RATIO_HIGH,
                            UPDATE_RATIO_LOW, UPDATE_RATIO_TARGET, summary_lines)

FIGURES = ("weight_histograms", "gradient_histograms", "saturation", "update_ratio", "confusion",
           "misclassified")
RATIO_FLOOR = 1e-12  # a ratio of exactly 0 (a layer that did not move) is drawn here


def run_records(source) -> list[dict]:
    """The records of one run: ``source`` is a list of record dicts (returned as is) or the path
    of a JSONL log (a torn last line is skipped)."""
    if isinstance(source, (str, os.PathLike)):
        records = []
        for line in Path(source).read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records
    return list(source)


def _of(records, kind: str) -> list[dict]:
    return [r for r in records if r.get("type") == kind]


def _title(records) -> str:
    start = next(iter(_of(records, "run_start")), None)
    if not start:
        return ""
    c = start.get("config", {})
    opt = c.get("optimizer", {})
    lr = opt.get("learning_rate", c.get("learning_rate")) if isinstance(opt, dict) else c.get("learning_rate")
    return (f"{c.get('sizes')} {c.get('activation')}/{c.get('output_activation')}, "
            f"{c.get('cost')}, init {c.get('init')}, η = {lr:g}" if lr is not None else "")


def _empty(fig: Figure, text: str) -> Figure:
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center")
    return fig


def histograms_figure(source, kind: str = "weights") -> Figure:
    """Per weight layer, a heatmap of the ``kind`` (``"weights"`` or ``"gradients"``) histogram
    over epochs, from the ``probe_stats`` records (bins fixed for the run)."""
    if kind not in ("weights", "gradients"):
        raise ValueError(f"kind must be 'weights' or 'gradients', got {kind!r}")
    records = run_records(source)
    probes = _of(records, "probe_stats")
    key = "weight_histograms" if kind == "weights" else "gradient_histograms"
    n_layers = len(probes[0][key]) if probes else 0
    fig = Figure(figsize=(5.0 * max(n_layers, 1), 4.2), layout="constrained")
    if not probes:
        return _empty(fig, "no probe_stats records (diagnostics off?)")
    epochs = [p["epoch"] for p in probes]
    axes = fig.subplots(1, n_layers, squeeze=False)[0]
    for layer, ax in enumerate(axes):
        hists = [p[key][layer] for p in probes]
        edges = np.asarray(hists[0]["edges"], float)
        counts = np.array([h["counts"] for h in hists], float).T  # (bins, epochs)
        total = counts.sum(axis=0) + np.array([h["below"] + h["above"] + h.get("zeros", 0) for h in hists])
        share = counts / np.maximum(total, 1)
        x_edges = np.arange(len(epochs) + 1) - 0.5
        mesh = ax.pcolormesh(x_edges, edges, np.where(share > 0, share, np.nan), cmap="viridis",
                             norm=LogNorm(vmin=max(share[share > 0].min(), 1e-5) if (share > 0).any() else 1e-5,
                                          vmax=1.0), shading="flat")
        fig.colorbar(mesh, ax=ax, label="share of the layer's weights", shrink=0.85)
        ticks = np.unique(np.linspace(0, len(epochs) - 1, min(len(epochs), 8)).round().astype(int))
        ax.set_xticks(ticks, [str(epochs[t]) for t in ticks])
        ax.set_xlabel("epoch")
        last = hists[-1]
        outside = f"last epoch: {last['below']} below, {last['above']} above the bins"
        if kind == "weights":
            ax.set_ylabel("weight value")
        else:
            ax.set_ylabel("log10 |∂C/∂w| on the probe batch")
            outside += f", {last.get('zeros', 0)} exactly 0"
        ax.set_title(f"layer {layer} ({edges.size - 1} fixed bins)\n{outside}", fontsize=9)
        if kind == "gradients" and last.get("zeros", 0) and not np.any(counts[:, -1]):
            ax.text(0.5, 0.5, "last epoch: every ∂C/∂w is exactly 0\n(nothing in this layer can learn)",
                    transform=ax.transAxes, ha="center", va="center", color="crimson")
    fig.suptitle(f"{'Weight' if kind == 'weights' else 'Gradient'} histograms per epoch — {_title(records)}",
                 fontsize=10)
    return fig


def saturation_figure(source) -> Figure:
    """Per layer (hidden and output), saturated-unit and dead-unit shares per epoch, with the
    flag thresholds (90 % saturated, 50 % dead)."""
    records = run_records(source)
    probes = _of(records, "probe_stats")
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    if not probes:
        return _empty(fig, "no probe_stats records (diagnostics off?)")
    ax_sat, ax_dead = fig.subplots(1, 2)
    epochs = [p["epoch"] for p in probes]
    layers = lambda p: p["hidden_layers"] + ([p["output_layer"]] if p.get("output_layer") else [])  # noqa: E731
    n = len(layers(probes[0]))
    colors = [colormaps["plasma"](x) for x in np.linspace(0.05, 0.8, n)]
    drew = {"saturated_fraction": False, "dead_fraction": False}
    for i in range(n):
        role = "output" if i == n - 1 and probes[0].get("output_layer") else "hidden"
        act = layers(probes[0])[i]["activation"]
        label = f"layer {i} ({role}, {act})"
        for ax, key in ((ax_sat, "saturated_fraction"), (ax_dead, "dead_fraction")):
            values = [layers(p)[i].get(key) for p in probes]
            if all(v is None for v in values):
                continue
            drew[key] = True
            ax.plot(epochs, [np.nan if v is None else 100 * v for v in values], "o-", color=colors[i],
                    label=label)
            if key == "saturated_fraction":
                outs = [layers(p)[i].get("saturated_output_fraction") for p in probes]
                ax.plot(epochs, [np.nan if v is None else 100 * v for v in outs], ":", color=colors[i],
                        label=f"layer {i}: share of single outputs saturated")
    rule = (probes[0].get("saturation_rule") or "sigmoid/tanh only").replace(" on at least", "\non at least")
    for ax, key, threshold, title in (
            (ax_sat, "saturated_fraction", SATURATION_THRESHOLD, f"saturated units (%)\n{rule}"),
            (ax_dead, "dead_fraction", DEAD_THRESHOLD,
             f"dead units (%)\n{probes[0].get('dead_rule') or 'ReLU only'}")):
        if drew[key]:
            ax.axhline(100 * threshold, color="crimson", ls="--", lw=1,
                       label=f"flag above {100 * threshold:g} %")
        ax.set_ylim(-3, 103)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title, fontsize=9)
        if drew[key]:
            ax.legend(fontsize=7)
        else:
            ax.text(0.5, 0.5, "not applicable to these activations", transform=ax.transAxes,
                    ha="center", color="gray")
    fig.suptitle(f"Saturated and dead units on {probes[0].get('probe_size')} probe images — "
                 f"{_title(records)}", fontsize=10)
    return fig


def update_ratio_figure(source) -> Figure:
    """Per layer, ‖Δw‖/‖w‖ (left) and ‖∂C/∂w‖ (right) at every logged mini-batch, log scale."""
    records = run_records(source)
    steps = [r for r in _of(records, "mini_batch") if r.get("update_stats")]
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    if not steps:
        return _empty(fig, "no update_stats in the mini_batch records")
    ax_r, ax_g = fig.subplots(1, 2)
    x = np.array([r["step"] for r in steps])
    n = len(steps[0]["update_stats"]["weight_update_ratio"])
    colors = [colormaps["plasma"](v) for v in np.linspace(0.05, 0.8, n)]
    for ax, key in ((ax_r, "weight_update_ratio"), (ax_g, "weight_grad_norm")):
        for i in range(n):
            y = np.array([np.nan if r["update_stats"][key][i] is None else r["update_stats"][key][i]
                          for r in steps], float)
            ax.plot(x, np.maximum(y, RATIO_FLOOR), ".-", ms=3, lw=1, color=colors[i], label=f"layer {i}")
        ax.set_yscale("log")
        ax.set_xlabel("mini-batch (global step)")
    ax_r.axhspan(UPDATE_RATIO_LOW, UPDATE_RATIO_HIGH, color="green", alpha=0.07,
                 label=f"no flag: {UPDATE_RATIO_LOW:g} – {UPDATE_RATIO_HIGH:g}")
    ax_r.axhline(UPDATE_RATIO_TARGET, color="green", ls="--", lw=1, label="rule of thumb 1e-3")
    ax_r.set_title(f"update / weight ratio ‖Δw‖/‖w‖ (0 drawn at {RATIO_FLOOR:g})", fontsize=9)
    ax_g.set_title("gradient norm ‖∂C/∂w‖ (mini-batch)", fontsize=9)
    ax_r.legend(fontsize=7)
    ax_g.legend(fontsize=7)
    fig.suptitle(f"How hard each step pushes each layer — {_title(records)}", fontsize=10)
    return fig


def confusion_figure(source) -> Figure:
    """The end-of-run confusion matrix on the test set (rows true, columns predicted)."""
    records = run_records(source)
    report = next(iter(_of(records, "evaluation_report")[-1:]), None)
    fig = Figure(figsize=(6.2, 5.4), layout="constrained")
    if not report:
        return _empty(fig, "no evaluation_report record (no test data, or diagnostics off)")
    m = np.asarray(report["confusion_matrix"])
    ax = fig.add_subplot()
    im = ax.imshow(m, cmap="Blues", norm=LogNorm(vmin=1, vmax=max(m.max(), 2)))
    fig.colorbar(im, ax=ax, label="images (log scale)")
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            if m[i, j]:
                ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if m[i, j] > m.max() / 8 else "black")
    ax.set_xticks(range(m.shape[1]))
    ax.set_yticks(range(m.shape[0]))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = 100.0 * report["correct"] / max(report["n_examples"], 1)
    ax.set_title(f"Confusion matrix: {report['correct']} / {report['n_examples']} correct ({acc:.2f} %)\n"
                 f"{_title(records)}", fontsize=9)
    return fig


def misclassified_figure(source, test_images, *, n: int = 32, ncols: int = 8) -> Figure:
    """A gallery of the first ``n`` misclassified test images with "true → predicted";
    ``test_images`` (n_test, 784) are the test images the run was evaluated on."""
    records = run_records(source)
    report = next(iter(_of(records, "evaluation_report")[-1:]), None)
    if not report:
        return _empty(Figure(figsize=(6, 2)), "no evaluation_report record")
    idx = report["misclassified_indices"][:n]
    if not idx:
        return _empty(Figure(figsize=(6, 2)), "no misclassified test image")
    images = np.asarray(test_images)
    nrows = -(-len(idx) // ncols)
    fig = Figure(figsize=(1.3 * ncols, 1.5 * nrows + 0.6), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for k, (ax, i) in enumerate(zip(axes, idx)):
        ax.imshow(images[i].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"#{i}: {report['misclassified_labels'][k]} → {report['misclassified_predictions'][k]}",
                     fontsize=8)
    total = len(report["misclassified_indices"])
    fig.suptitle(f"Misclassified test digits, true → predicted (first {len(idx)} of {total})", fontsize=10)
    return fig


def diagnosis_text(source) -> list[str]:
    """The run's diagnosis as lines (from its ``diagnosis`` record)."""
    records = run_records(source)
    diag = next(iter(_of(records, "diagnosis")[-1:]), None)
    return summary_lines(diag["flags"]) if diag else ["no diagnosis record (diagnostics off?)"]


def save_diagnostic_figures(source, out_dir, *, test_images=None, prefix: str = "",
                            dpi: int = 110) -> list[Path]:
    """Write every figure of :data:`FIGURES` as ``<prefix><name>.png`` under ``out_dir`` (the
    confusion matrix only with an ``evaluation_report``, the gallery only with ``test_images`` too);
    returns the paths written."""
    records = run_records(source)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    makers = {"weight_histograms": lambda: histograms_figure(records, "weights"),
              "gradient_histograms": lambda: histograms_figure(records, "gradients"),
              "saturation": lambda: saturation_figure(records),
              "update_ratio": lambda: update_ratio_figure(records)}
    if _of(records, "evaluation_report"):
        makers["confusion"] = lambda: confusion_figure(records)
        if test_images is not None:
            makers["misclassified"] = lambda: misclassified_figure(records, test_images)
    paths = []
    for name, make in makers.items():
        path = out / f"{prefix}{name}.png"
        make().savefig(path, dpi=dpi)
        paths.append(path)
    return paths


DIAGNOSTIC_TYPES = ("probe_stats", "evaluation_report", "diagnosis")
CAPTIONS = {
    "weight_histograms": "Weight histograms per layer over epochs (fixed bins for the run)",
    "gradient_histograms": "Histograms of log10 |∂C/∂w| on the probe batch per layer over epochs",
    "saturation": "Saturated units (sigmoid/tanh) and dead units (ReLU) per layer and epoch",
    "update_ratio": "Update-to-weight ratio ‖Δw‖/‖w‖ and gradient norm per layer, every logged step",
    "confusion": "Confusion matrix on the test set at the end of the run",
    "misclassified": "Misclassified test digits, true → predicted",
}


def diagnostic_runs(files: Sequence[str | os.PathLike]) -> list[tuple[str, list[dict]]]:
    """``(name, records)`` for every run in the log ``files`` that holds diagnostics (the name is
    the file's stem, with the run id when a file holds several runs)."""
    runs = []
    for path in files:
        by_run: dict = {}
        for record in run_records(path):
            by_run.setdefault(record.get("run_id"), []).append(record)
        for run_id, records in by_run.items():
            if any(r.get("type") in DIAGNOSTIC_TYPES for r in records):
                name = Path(path).stem if len(by_run) == 1 else f"{Path(path).stem}_{run_id}"
                runs.append((name, records))
    return runs


def test_images_from_env():
    """The MNIST test images when ``$NNJAX_DATA_DIR`` names the data (read directly from the IDX
    files), else None: the gallery needs the pixels, which the log does not hold."""
    if not os.environ.get("NNJAX_DATA_DIR"):
        return None
    try:
        from nnjax.data import load_mnist

        return load_mnist(source="idx")[2].images
    except Exception:  # noqa: BLE001 - no data, no gallery; the rest of the report stands
        return None


def write_run_figures(runs: list[tuple[str, list[dict]]], out_dir, *, test_images=None,
                      dpi: int = 110) -> dict[str, Path]:
    """The figures of each run in ``runs`` (see :func:`diagnostic_runs`) under ``out_dir``: named
    ``<figure>.png`` for a single run, ``<run name>_<figure>.png`` for several. The gallery is drawn
    only with ``test_images`` large enough for the run's test set (the CLI's subsets are
    prefixes of it). Returns file name → path."""
    written: dict[str, Path] = {}
    for name, records in runs:
        report = next(iter(_of(records, "evaluation_report")[-1:]), None)
        images = test_images
        if images is not None and (report is None or report["n_examples"] > len(images)):
            images = None
        prefix = "" if len(runs) == 1 else f"{name}_"
        for path in save_diagnostic_figures(records, out_dir, test_images=images, prefix=prefix, dpi=dpi):
            written[path.name] = path
    return written


def figure(source, name: str, *, test_images=None):
    """The figure ``name`` (one of :data:`FIGURES`) of one run, or a line saying why there is
    none (no diagnostics in the log, no test set, no test images) — for notebooks."""
    records = run_records(source)
    if not any(r.get("type") in DIAGNOSTIC_TYPES for r in records):
        return "no diagnostics in this log (a run logged with diagnostics=False, or an older log)"
    if name in ("confusion", "misclassified") and not _of(records, "evaluation_report"):
        return "no evaluation_report: the run had no test data"
    if name == "misclassified" and test_images is None:
        return "the gallery needs the test images: set NNJAX_DATA_DIR"
    makers = {"weight_histograms": lambda: histograms_figure(records, "weights"),
              "gradient_histograms": lambda: histograms_figure(records, "gradients"),
              "saturation": lambda: saturation_figure(records),
              "update_ratio": lambda: update_ratio_figure(records),
              "confusion": lambda: confusion_figure(records),
              "misclassified": lambda: misclassified_figure(records, test_images)}
    if name not in makers:
        raise ValueError(f"unknown figure {name!r}; allowed: {', '.join(FIGURES)}")
    return makers[name]()


def markdown_section(runs: list[tuple[str, list[dict]]], written: dict[str, Path]) -> str:
    """The report's "Why is it stuck?" section: each run's diagnosis and its figures."""
    if not runs:
        return ""
    lines = ["## Why is it stuck? Diagnosis", ""]
    for name, records in runs:
        if len(runs) > 1:
            lines += [f"### `{name}`", ""]
        lines += [f"- {line}" for line in diagnosis_text(records)]
        lines.append("")
        prefix = "" if len(runs) == 1 else f"{name}_"
        for figure in FIGURES:
            if f"{prefix}{figure}.png" in written:
                lines += [f"![{CAPTIONS[figure]}]({prefix}{figure}.png)", ""]
    return "\n".join(lines)


__all__ = ["FIGURES", "CAPTIONS", "diagnostic_runs", "test_images_from_env", "write_run_figures",
           "markdown_section", "figure", "run_records", "histograms_figure", "saturation_figure", "update_ratio_figure",
           "confusion_figure", "misclassified_figure", "diagnosis_text", "save_diagnostic_figures"]
