"""The five pictures of a training run, drawn from :class:`nnjax.analysis.LogTables`.

Each function takes the tables (one run or many) and returns a ``matplotlib.figure.Figure`` made
without ``pyplot``: nothing is registered with a GUI or a notebook backend, so nothing is left open
(``pyplot.get_fignums()`` stays empty however many you draw) and memory goes when the figure does.
Save one with ``fig.savefig("x.png")``; in Jupyter, run ``%matplotlib inline`` once and a figure
returned as a cell's value is shown.

1. :func:`accuracy_figure` — test accuracy per epoch, best epoch marked, and the training cost.
2. :func:`weights_figure` — per layer, the weights' mean ± std and min/max band per epoch; plus each
   layer's relative weight change per epoch ("which layer changes most?").
3. :func:`gradients_figure` — per layer, mean and max |∂C/∂w| (and mean |∂C/∂b|) over training, log
   scale, from the ``mini_batch`` records; plus all layers together.
4. :func:`timing_figure` — training time per epoch as bars, and their histogram.
5. :func:`summary_figure` — the run configuration, best and final accuracy, epochs, time, status.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from nnjax.analysis import (DEFAULT_THRESHOLD, LogTables, layer_change, layer_change_summary,
                            learning_progress)

FIGURES = ("accuracy", "weights", "gradients", "timing", "summary")
MAX_LEGEND = 10  # more runs than this: no per-run legend, the picture would be all legend


def _colors(n: int) -> list:
    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    return [colormaps["viridis"](x) for x in np.linspace(0.0, 0.95, n)]


def _run_colors(tables: LogTables) -> dict:
    return dict(zip(tables.runs["run"], _colors(len(tables.runs))))


def _layer_colors(n: int) -> list:
    return [colormaps["plasma"](x) for x in np.linspace(0.05, 0.85, max(n, 1))]


def _describe(tables: LogTables) -> str:
    """A line saying which run(s) a figure shows."""
    runs = tables.runs
    if len(runs) > 1:
        return f"{len(runs)} runs"
    r = runs.iloc[0]
    parts = [str(r["run_name"])]
    if r.get("sizes"):
        parts.append(f"[{str(r['sizes']).replace('-', ', ')}]")
    if r.get("activation"):
        parts.append(f"{r['activation']}/{r['cost']}")
    if _present(r.get("learning_rate")):
        parts.append(f"η = {r['learning_rate']:g}")
    if _present(r.get("mini_batch_size")):
        parts.append(f"mini-batch {int(r['mini_batch_size'])}")
    return ", ".join(parts)


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value)) \
        and value is not pd.NA


def _layer_title(tables: LogTables, layer: int) -> str:
    """``layer 0 (784→30)`` when all runs share their sizes, else ``layer 0``."""
    sizes = {s for s in tables.runs.get("sizes", pd.Series(dtype=object)) if s}
    if len(sizes) == 1:
        values = next(iter(sizes)).split("-")
        if layer + 1 < len(values):
            return f"layer {layer} ({values[layer]}→{values[layer + 1]})"
    return f"layer {layer}"


def _figure(nrows: int, ncols: int, *, width: float, height: float, left: float = 1.0,
            right: float = 0.3, bottom: float = 0.65, top: float = 0.8, wgap: float = 1.05,
            hgap: float = 1.1, **kwargs):
    """A figure of ``nrows`` × ``ncols`` panels, each ``width`` × ``height`` inches, with fixed
    margins and gaps in inches (room for tick labels, axis labels and two-line titles). Fixed
    spacing instead of a layout engine: the same look, at a third of the drawing time."""
    fig_w = left + right + ncols * width + (ncols - 1) * wgap
    fig_h = bottom + top + nrows * height + (nrows - 1) * hgap
    fig = Figure(figsize=(fig_w, fig_h))
    fig.subplots_adjust(left=left / fig_w, right=1 - right / fig_w, bottom=bottom / fig_h,
                        top=1 - top / fig_h, wspace=wgap / width, hspace=hgap / height)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs).ravel()
    return fig, axes


def _grid(n: int, *, ncols: int = 3, width: float = 4.3, height: float = 3.0, top: float = 0.8,
          bottom: float = 1.05):
    """A figure with ``n`` panels, up to ``ncols`` in a row, unused cells hidden; room at the
    bottom for a figure legend (:func:`_bottom_legend`)."""
    ncols = min(ncols, n)
    fig, axes = _figure(math.ceil(n / ncols), ncols, width=width, height=height, top=top,
                        bottom=bottom)
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _bottom_legend(fig: Figure, handles: list) -> None:
    """The legend of the line styles, once for the figure, centred below the panels."""
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize="small",
               frameon=False, bbox_to_anchor=(0.5, 0.05 / fig.get_figheight()))


def _suptitle(fig: Figure, text: str) -> None:
    fig.suptitle(text, y=1 - 0.12 / fig.get_figheight(), va="top", fontsize="large")


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.35", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _run_legend(ax, tables: LogTables, colors: dict, **kwargs) -> None:
    if 1 < len(tables.runs) <= MAX_LEGEND:
        handles = [Line2D([], [], color=colors[r], label=lab)
                   for r, lab in zip(tables.runs["run"], tables.runs["run_name"])]
        ax.legend(handles=handles, fontsize="small", **kwargs)


def _integer_epochs(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


# -- 1. accuracy -----------------------------------------------------------------------------
def accuracy_figure(tables: LogTables, *, threshold: float = DEFAULT_THRESHOLD) -> Figure:
    """Test accuracy (%) per epoch with the best epoch starred; for a single run also the last epoch
    that raised the best by more than ``threshold`` points. Below it, the mean training cost."""
    epochs = tables.epochs
    has_cost = epochs["train_cost"].notna().any()
    fig, axes = _figure(2 if has_cost else 1, 1, width=8.0, height=3.4, hgap=0.95)
    ax = axes[0]
    colors = _run_colors(tables)
    few = len(tables.runs) <= 5
    progress = learning_progress(tables, threshold).set_index("run")
    drawn = 0
    for run, label in zip(tables.runs["run"], tables.runs["run_name"]):
        acc = epochs[(epochs["run"] == run) & epochs["accuracy_percent"].notna()]
        if acc.empty:
            continue
        drawn += 1
        ax.plot(acc["epoch"], acc["accuracy_percent"], marker="o" if len(acc) <= 40 else None,
                ms=3.5, color=colors[run], label=label)
        best = acc.loc[acc["accuracy_percent"].idxmax()]
        ax.plot(best["epoch"], best["accuracy_percent"], marker="*", ms=16, color=colors[run],
                markeredgecolor="black", zorder=5,
                label=f"best: {best['accuracy_percent']:.2f} % (epoch {int(best['epoch'])})"
                if len(tables.runs) == 1 else None)
        if few and len(tables.runs) > 1:
            ax.annotate(f"{best['accuracy_percent']:.2f} %", (best["epoch"], best["accuracy_percent"]),
                        textcoords="offset points", xytext=(0, 9), ha="center", fontsize="small")
        if len(tables.runs) == 1:
            last = progress.at[run, "last_improvement"]
            if _present(last) and int(last) < int(acc["epoch"].iloc[-1]):
                ax.axvline(int(last), color="0.4", ls=":",
                           label=f"last gain > {threshold:g} pp on the best (epoch {int(last)})")
    if drawn == 0:
        _empty(ax, "no test accuracy in the log (trained without test data)")
    else:
        ax.set_ylabel("test accuracy (%)")
        ax.margins(y=0.12)
        ax.set_xlabel("epoch")
        _integer_epochs(ax)
        ax.grid(alpha=0.3)
        if len(tables.runs) == 1:
            ax.legend(loc="lower right", fontsize="small")
        else:
            _run_legend(ax, tables, colors, loc="lower right")
    ax.set_title("Test accuracy per epoch (★ best epoch)")
    if has_cost:
        cost_ax = axes[1]
        for run in tables.runs["run"]:
            rows = epochs[(epochs["run"] == run) & epochs["train_cost"].notna()]
            if not rows.empty:
                cost_ax.plot(rows["epoch"], rows["train_cost"], marker="o" if len(rows) <= 40 else None,
                             ms=3, color=colors[run])
        cost_ax.set_ylabel("mean mini-batch cost")
        cost_ax.set_title("Training cost per epoch (mean over the epoch's mini-batches)")
        cost_ax.grid(alpha=0.3)
        cost_ax.set_xlabel("epoch")
        _integer_epochs(cost_ax)
        if drawn:
            cost_ax.set_xlim(ax.get_xlim())
    _suptitle(fig, _describe(tables))
    return fig


# -- 2. weights --------------------------------------------------------------------------------
def weights_figure(tables: LogTables) -> Figure:
    """For every layer: the weights' mean (line), mean ± std (dark band) and min…max (light band)
    after each epoch. Last panel: each layer's relative weight change per epoch, log scale (see
    :func:`nnjax.analysis.layer_change`)."""
    n_layers = max(tables.n_layers, int(tables.weights["layer"].max()) + 1 if not tables.weights.empty else 0)
    fig, axes = _grid(n_layers + 1, top=1.0)  # room for the two-line title of the last panel
    colors = _run_colors(tables)
    w = tables.weights
    for layer, ax in enumerate(axes[:-1]):
        for run in tables.runs["run"]:
            rows = w[(w["run"] == run) & (w["layer"] == layer)]
            if rows.empty:
                continue
            x = rows["epoch"].to_numpy()
            mean = rows["weight_mean"].astype(float).to_numpy()
            c = colors[run]
            if {"weight_min", "weight_max"} <= set(rows.columns):
                ax.fill_between(x, rows["weight_min"].astype(float), rows["weight_max"].astype(float),
                                color=c, alpha=0.12, lw=0)
            if "weight_std" in rows.columns:
                std = rows["weight_std"].astype(float).to_numpy()
                ax.fill_between(x, mean - std, mean + std, color=c, alpha=0.35, lw=0)
            ax.plot(x, mean, color=c, lw=1.8, marker="o" if len(x) == 1 else None)
        ax.set_title(f"{_layer_title(tables, layer)}: weights")
        ax.set_xlabel("epoch")
        ax.set_ylabel("weight value")
        ax.grid(alpha=0.3)
        _integer_epochs(ax)
    if n_layers:
        base = colors[tables.runs["run"].iloc[0]] if len(tables.runs) == 1 else "0.45"
        _bottom_legend(fig, [Line2D([], [], color=base, lw=1.8, label="mean weight"),
                             Patch(color=base, alpha=0.45, label="mean ± std"),
                             Patch(color=base, alpha=0.15, label="min … max")])
        if len(tables.runs) > 1:
            _run_legend(axes[min(1, n_layers - 1)], tables, colors, loc="upper right")
    else:
        _empty(axes[0], "no weight_snapshot records in the log")
    _change_panel(axes[-1], tables)
    _suptitle(fig, f"Weight evolution per layer — {_describe(tables)}")
    return fig


def _change_panel(ax, tables: LogTables) -> None:
    change = layer_change(tables).dropna(subset=["relative_change"])
    change = change[change["relative_change"] > 0]
    ax.set_title("Which layer changes most?\nrelative weight change per epoch")
    if change.empty:
        _empty(ax, "needs weight snapshots of two or more epochs")
        return
    layers = sorted(change["layer"].unique())
    palette = dict(zip(layers, _layer_colors(len(layers))))
    one = len(tables.runs) == 1
    for (run, layer), rows in change.groupby(["run", "layer"], sort=True):
        ax.plot(rows["epoch"], rows["relative_change"], color=palette[layer],
                lw=1.6 if one else 0.9, alpha=1.0 if one else 0.6,
                marker="o" if len(rows) <= 40 else None, ms=3)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("‖ΔW‖ / ‖W‖ (lower bound)")
    ax.grid(alpha=0.3)
    _integer_epochs(ax)
    ax.legend(handles=[Line2D([], [], color=palette[layer], label=_layer_title(tables, layer))
                       for layer in layers], fontsize="small")


# -- 3. gradients ------------------------------------------------------------------------------
def gradients_figure(tables: LogTables) -> Figure:
    """Per layer, the gradient magnitudes of the logged mini-batches against the epoch (fractional:
    epoch + mini-batch / mini-batches per epoch), log scale. One mini-batch of ten images gives a
    gradient that varies over decades, so each single value is drawn faint and the lines are
    rolling geometric means over about one epoch of records: mean |∂C/∂w| (solid), max |∂C/∂w|
    (thin) and mean |∂C/∂b| (dotted). Last panel: mean |∂C/∂w| of all layers together, to compare
    them (Nielsen, ch. 5: in deep sigmoid networks the earlier layers learn more slowly)."""
    g = tables.gradients
    n_layers = max(tables.n_layers, int(g["layer"].max()) + 1 if not g.empty else 0)
    if g.empty or n_layers == 0:
        fig, (ax,) = _figure(1, 1, width=7.0, height=3.0)
        _empty(ax, "no mini_batch records in the log\n(gradient statistics are logged every N "
                   "mini-batches)")
        _suptitle(fig, f"Gradient magnitudes — {_describe(tables)}")
        return fig
    fig, axes = _grid(n_layers + 1, top=1.0)
    colors = _run_colors(tables)
    one = len(tables.runs) == 1
    palette = _layer_colors(n_layers)
    all_ax = axes[-1]
    windows = []
    span = {i: [math.inf, 0.0] for i in range(n_layers + 1)}  # y range of the smoothed lines

    def widen(index, values):
        finite = values[np.isfinite(values)]
        if finite.size:
            span[index][0] = min(span[index][0], float(finite.min()))
            span[index][1] = max(span[index][1], float(finite.max()))

    for (run, layer), rows in g.groupby(["run", "layer"], sort=True):
        layer = int(layer)
        per_epoch = rows.groupby("epoch").size()
        window = max(1, int(round(per_epoch.median())))  # about one epoch of records
        windows.append(window)
        x, c, ax = rows["progress"].to_numpy(), colors[run], axes[layer]
        for column, style in (("weight_max", {"lw": 0.9, "alpha": 0.55}),
                              ("bias_mean", {"lw": 1.1, "ls": ":"}),
                              ("weight_mean", {"lw": 1.8})):
            if column not in rows:
                continue
            values = _positive(rows[column])
            if column == "weight_mean" and window > 1:
                ax.plot(x, values, color=c, lw=0.5, alpha=0.15 if one else 0.08)
            smooth = _rolling_geometric_mean(values, window)
            ax.plot(x, smooth, color=c, **style)
            widen(layer, smooth)
            if column == "weight_mean":
                all_ax.plot(x, smooth, color=palette[layer], lw=1.6 if one else 0.9,
                            alpha=1.0 if one else 0.6)
                widen(n_layers, smooth)
    smoothing = (f"rolling geometric mean over {windows[0]} records (≈ 1 epoch)"
                 if windows and max(windows) > 1 and len(set(windows)) == 1
                 else "rolling geometric mean over ≈ 1 epoch" if windows and max(windows) > 1
                 else "as logged")
    for index, ax in enumerate(axes):  # the faint single values may leave the axis
        low, high = span[index]
        ax.set_yscale("log")
        if 0 < low <= high < math.inf:
            ax.set_ylim(low / 4, high * 2.5)
    for layer, ax in enumerate(axes[:-1]):
        ax.set_title(f"{_layer_title(tables, layer)}: gradients")
        ax.set_xlabel("epoch")
        ax.set_ylabel("|gradient| (log scale)")
        ax.grid(alpha=0.3)
    base = colors[tables.runs["run"].iloc[0]] if one else "0.3"
    handles = [Line2D([], [], color=base, lw=1.8, label="mean |∂C/∂w|"),
               Line2D([], [], color=base, lw=0.9, alpha=0.55, label="max |∂C/∂w|"),
               Line2D([], [], color=base, lw=1.1, ls=":", label="mean |∂C/∂b|")]
    if max(windows, default=1) > 1:
        handles.append(Line2D([], [], color=base, lw=0.5, alpha=0.3,
                              label="mean |∂C/∂w|, single mini-batches"))
    _bottom_legend(fig, handles)
    if not one:
        _run_legend(axes[min(1, n_layers - 1)], tables, colors)
    all_ax.set_title("All layers: mean |∂C/∂w|\n(which layer gets the larger gradients?)")
    all_ax.set_xlabel("epoch")
    all_ax.set_ylabel("mean |∂C/∂w| (log scale)")
    all_ax.grid(alpha=0.3)
    all_ax.legend(handles=[Line2D([], [], color=palette[i], label=_layer_title(tables, i))
                           for i in range(n_layers)], fontsize="small")
    interval = tables.runs["log_interval"].dropna().unique() if "log_interval" in tables.runs else []
    every = f" every {int(interval[0])} mini-batches" if len(interval) == 1 else ""
    _suptitle(fig, f"Gradient magnitudes{every}, {smoothing} — {_describe(tables)}")
    return fig


def _positive(series: pd.Series) -> pd.Series:
    """Numbers > 0 as floats, anything else NaN (a log axis cannot show them)."""
    values = pd.to_numeric(series, errors="coerce").astype(float)
    return values.where(values > 0)


def _rolling_geometric_mean(values: pd.Series, window: int) -> np.ndarray:
    """A centred rolling mean of log10(values), back in linear units; NaNs are skipped."""
    if window <= 1:
        return values.to_numpy()
    logs = np.log10(values.reset_index(drop=True))
    return (10 ** logs.rolling(window, center=True, min_periods=1).mean()).to_numpy()


# -- 4. timing ---------------------------------------------------------------------------------
def timing_figure(tables: LogTables) -> Figure:
    """Left: seconds per epoch as bars (training, and the evaluation stacked on top when logged);
    epoch 0 includes compiling, and a bar far above the rest is clipped and labelled with its value.
    Right: the histogram of the training seconds per epoch (epoch 0 left out when there are others,
    so that compilation does not squash it)."""
    epochs = tables.epochs[tables.epochs["duration_seconds"].notna()]
    fig, (bars_ax, hist_ax) = _figure(1, 2, width=5.0, height=3.4, top=1.0,
                                      gridspec_kw={"width_ratios": [2, 1]})
    _suptitle(fig, f"Training time — {_describe(tables)}")
    if epochs.empty:
        _empty(bars_ax, "no epoch durations in the log")
        _empty(hist_ax, "")
        return fig
    colors = _run_colors(tables)
    runs = [r for r in tables.runs["run"] if (epochs["run"] == r).any()]
    totals = epochs["duration_seconds"] + epochs["eval_seconds"].fillna(0)
    later = totals[epochs["epoch"] > 0]
    cap = 2.5 * float(later.max()) if not later.empty else math.inf
    clipped = float(totals.max()) > 1.3 * cap and len(runs) <= 4  # bars only: lines may leave
    title = "Seconds per epoch (epoch 0 includes compiling)"
    if len(runs) <= 4:
        width = 0.8 / len(runs)
        for i, run in enumerate(runs):
            rows = epochs[epochs["run"] == run]
            x = rows["epoch"].to_numpy() + (i - (len(runs) - 1) / 2) * width
            train = rows["duration_seconds"].to_numpy(dtype=float)
            evaluation = rows["eval_seconds"].fillna(0).to_numpy(dtype=float)
            bars_ax.bar(x, train, width=width, color=colors[run],
                        label="training" if len(runs) == 1 else tables.name(run))
            if rows["eval_seconds"].notna().any():
                bars_ax.bar(x, evaluation, bottom=train, width=width, color=colors[run], alpha=0.35,
                            hatch="//", label="evaluation" if len(runs) == 1 else None)
            if clipped:
                for xi, value in zip(x, train + evaluation):
                    if value > cap:
                        bars_ax.annotate(f"{value:.2g} s", (xi, cap), xytext=(0, -14),
                                         textcoords="offset points", ha="center", fontsize="small",
                                         bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.6"})
        handles, _ = bars_ax.get_legend_handles_labels()
        if len(runs) > 1 and epochs["eval_seconds"].notna().any():
            handles.append(Patch(facecolor="0.6", alpha=0.35, hatch="//", label="evaluation (hatched)"))
        bars_ax.legend(handles=handles, fontsize="small", loc="upper right")
    else:
        for run in runs:
            rows = epochs[epochs["run"] == run]
            bars_ax.plot(rows["epoch"], rows["duration_seconds"], color=colors[run], lw=1, marker=".")
        title = "Training seconds per epoch, one line per run (epoch 0 includes compiling)"
    if clipped:
        bars_ax.set_ylim(0, cap)
        title += ";\nbars above the axis are clipped, their height written on them"
    bars_ax.set_xlabel("epoch")
    bars_ax.set_ylabel("seconds")
    bars_ax.set_title(title)
    bars_ax.grid(alpha=0.3, axis="y")
    _integer_epochs(bars_ax)

    steady = epochs[epochs["epoch"] > 0] if (epochs["epoch"] > 0).any() else epochs
    values = steady["duration_seconds"].to_numpy(dtype=float)
    hist_ax.hist(values, bins=min(30, max(5, len(values) // 2)), color="tab:blue", alpha=0.75)
    median = float(np.median(values))
    hist_ax.axvline(median, color="black", ls="--", label=f"median {median:.3g} s")
    hist_ax.set_xlabel("training seconds per epoch")
    hist_ax.set_ylabel("epochs")
    which = "epochs 1 and later" if len(steady) < len(epochs) else "all epochs"
    hist_ax.set_title(f"Histogram: {which}, n = {len(values)}")
    hist_ax.legend(fontsize="small")
    hist_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    hist_ax.xaxis.set_major_locator(MaxNLocator(4))
    return fig


# -- 5. summary --------------------------------------------------------------------------------
def summary_rows(tables: LogTables, *, threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """The summary as text, one column per run: configuration, accuracy, epochs, time, status, and
    the answers to "still learning?" and "which layer changes most?"."""
    progress = learning_progress(tables, threshold).set_index("run")
    changes = layer_change_summary(tables)
    columns = {}
    for _, r in tables.runs.iterrows():
        run = r["run"]

        def fmt(value, spec="", suffix=""):
            return f"{value:{spec}}{suffix}" if _present(value) else "—"

        p = progress.loc[run]
        if _present(p["last_improvement"]):
            learning = ("yes, still improving" if p["still_learning"]
                        else f"stopped after epoch {int(p['last_improvement'])}")
        else:
            learning = "— (no test accuracy)"
        top = changes[(changes["run"] == run) & changes["changes_most"]]
        most = (f"{_layer_title(tables, int(top['layer'].iloc[0]))}, "
                f"{top['mean_change'].iloc[0]:.2%}/epoch" if not top.empty else "—")
        best = (f"{r['best_accuracy']:.2f} % (epoch {int(r['best_epoch'])})"
                if _present(r["best_accuracy"]) else "— (no test data)")
        planned = r.get("epochs_planned")
        columns[r["run_name"]] = {
            "format": r["format"] + (f" (schema {int(r['schema_version'])})"
                                     if _present(r["schema_version"]) else ""),
            "sizes": fmt(r.get("sizes")),
            "activation / cost": (f"{r['activation']} / {r['cost']}" if _present(r.get("activation"))
                                  else "—"),
            "init": fmt(r.get("init")),
            "optimizer, η": (f"{r['optimizer'] or 'sgd'}, η = {r['learning_rate']:g}"
                             if _present(r.get("learning_rate")) else "—"),
            "mini-batch size": fmt(r.get("mini_batch_size"), ".0f"),
            "seed": fmt(r.get("seed"), ".0f"),
            "training / test images": f"{fmt(r.get('n_train'), '.0f')} / {fmt(r.get('n_test'), '.0f')}",
            "epochs": f"{int(r['epochs_completed'])}"
                      + (f" of {int(planned)}" if _present(planned) else ""),
            "best accuracy": best,
            "final accuracy": fmt(r["final_accuracy"], ".2f", " %"),
            f"still learning? (> {threshold:g} pp)": learning,
            "layer changing most": most,
            "total time": fmt(r.get("total_seconds"), ".1f", " s"),
            "status": str(r["status"]),
        }
    return pd.DataFrame(columns)


def summary_figure(tables: LogTables, *, threshold: float = DEFAULT_THRESHOLD,
                   max_runs: int = 30) -> Figure:
    """The summary table as a picture: fields down, runs across for up to three runs; one row per
    run (the first ``max_runs``) for more."""
    table = summary_rows(tables, threshold=threshold)
    if table.shape[1] <= 3:
        cells = table.to_numpy()
        row_labels, col_labels = list(table.index), list(table.columns)
    else:
        keep = ["sizes", "activation / cost", "optimizer, η", "mini-batch size", "epochs",
                "best accuracy", "final accuracy", "total time", "status"]
        wide = table.T[keep]
        more = len(wide) - max_runs
        wide = wide.iloc[:max_runs]
        cells = wide.to_numpy()
        row_labels, col_labels = list(wide.index), keep
        if more > 0:
            row_labels.append(f"… {more} more")
            cells = np.vstack([cells, np.array([["" for _ in keep]], dtype=object)])
    # size the figure to the text (≈ 0.078 inch per character at 9.5 pt, 0.092 in bold) so that
    # the table fills it
    inches = [0.092 * max(len(str(x)) for x in [*row_labels, ""]) + 0.3]
    inches += [max(0.092 * len(str(col)), 0.078 * max(len(str(x)) for x in cells[:, j])) + 0.3
               for j, col in enumerate(col_labels)]
    width = sum(inches)
    height = 0.3 * (len(row_labels) + 1)
    fig = Figure(figsize=(width + 0.3, height + 0.7))
    ax = fig.add_axes((0.15 / (width + 0.3), 0.1 / (height + 0.7), width / (width + 0.3),
                       height / (height + 0.7)))  # the table fills the axes, the axes the figure
    ax.axis("off")
    cells = [[label, *row] for label, row in zip(row_labels, cells)]
    drawn = ax.table(cellText=cells, colLabels=["", *col_labels], cellLoc="left", colLoc="left",
                     bbox=(0, 0, 1, 1))
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(9.5)
    for (row, col), cell in drawn.get_celld().items():
        cell.set_width(inches[col] / width)
        if row == 0 or col == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("0.93")
    n = len(tables.runs)
    _suptitle(fig, f"Run summary — {n} run{'s' if n != 1 else ''}")
    return fig


FIGURE_FUNCTIONS = {"accuracy": accuracy_figure, "weights": weights_figure,
                    "gradients": gradients_figure, "timing": timing_figure, "summary": summary_figure}


__all__ = ["accuracy_figure", "weights_figure", "gradients_figure", "timing_figure", "summary_figure",
           "summary_rows", "FIGURES", "FIGURE_FUNCTIONS"]
