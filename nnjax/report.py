"""A report without Jupyter: the five figures of :mod:`nnjax.plots` as PNG files plus a short
markdown summary, for one log or many — and, for runs logged with diagnostics, their diagnosis and
the figures of :mod:`nnjax.diagnostic_plots`. ``nnjax report LOG...`` is the command-line front end::

    from nnjax import analysis, report
    written = report.write_report(analysis.read_logs("logs/training_20261203_171618.jsonl"),
                                  "reports/training_20261203_171618")
    written["summary.md"]      # the markdown; written["accuracy.png"], ... the figures
"""

from __future__ import annotations

import os
from pathlib import Path

from nnjax import plots
from nnjax.analysis import DEFAULT_THRESHOLD, LogTables, layer_change_summary, learning_progress

CAPTIONS = {
    "accuracy": "Test accuracy per epoch, best epoch starred; training cost below",
    "weights": "Weight evolution per layer: mean ± std and the min/max band; relative change per epoch",
    "gradients": "Gradient magnitudes per layer over training (log scale, from mini_batch records)",
    "timing": "Training time: seconds per epoch and their histogram",
    "summary": "Run summary: configuration, best and final accuracy, epochs, time, status",
}


def default_out_dir(files: list[Path], root: str | os.PathLike = "reports") -> Path:
    """``reports/<log stem>`` for one log; ``reports/<stem of the first>+<n-1>`` for several."""
    stem = files[0].stem if files else "report"
    return Path(root) / (stem if len(files) <= 1 else f"{stem}+{len(files) - 1}")


def write_report(tables: LogTables, out_dir: str | os.PathLike, *,
                 threshold: float = DEFAULT_THRESHOLD, dpi: int = 110,
                 test_images=None) -> dict[str, Path]:
    """Write ``accuracy.png``, ``weights.png``, ``gradients.png``, ``timing.png``, ``summary.png``
    and ``summary.md`` into ``out_dir`` (created if needed); returns name → path. Each figure is
    released as soon as it is saved. Runs with diagnostics add their figures (see
    :func:`nnjax.diagnostic_plots.write_run_figures`; the gallery of misclassified digits needs
    ``test_images``) and a diagnosis section to ``summary.md``."""
    from nnjax import diagnostic_plots

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name in plots.FIGURES:
        function = plots.FIGURE_FUNCTIONS[name]
        fig = (function(tables, threshold=threshold) if name in ("accuracy", "summary")
               else function(tables))
        path = out / f"{name}.png"
        fig.savefig(path, dpi=dpi)
        fig.clear()
        del fig
        written[f"{name}.png"] = path
    diagnosed = diagnostic_plots.diagnostic_runs(tables.files)
    extra = diagnostic_plots.write_run_figures(diagnosed, out, test_images=test_images, dpi=dpi)
    written.update(extra)
    md = out / "summary.md"
    text = markdown_summary(tables, threshold=threshold)
    section = diagnostic_plots.markdown_section(diagnosed, extra)
    md.write_text(text + ("\n" + section if section else ""), encoding="utf-8")
    written["summary.md"] = md
    return written


def markdown_summary(tables: LogTables, *, threshold: float = DEFAULT_THRESHOLD) -> str:
    """A short markdown page: the summary table, the seed's two questions answered, problems met
    while reading, and the figures."""
    lines = ["# Training report", ""]
    lines.append("Logs: " + ", ".join(f"`{f}`" for f in tables.files))
    lines.append("")
    table = plots.summary_rows(tables, threshold=threshold)
    lines += ["| | " + " | ".join(f"`{c}`" for c in table.columns) + " |",
              "|---|" + "---|" * len(table.columns)]
    for field, row in table.iterrows():
        lines.append(f"| {field} | " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    lines += ["", f"## Is it still learning? (threshold {threshold:g} percentage points)", ""]
    for _, p in learning_progress(tables, threshold).iterrows():
        lines.append(f"- `{p['run_name']}`: {p['verdict']}")
    lines += ["", "## Which layer changes most?", "",
              "Mean relative weight change per epoch, ‖ΔW‖/‖W‖ (a lower bound computed from the "
              "logged mean and std):", ""]
    changes = layer_change_summary(tables)
    if changes.empty:
        lines.append("- not measurable: the log needs weight snapshots of two or more epochs")
    for name, rows in changes.groupby("run_name", sort=False):
        parts = [f"layer {int(r.layer)}: {r.mean_change:.2%}" + (" **(most)**" if r.changes_most else "")
                 for r in rows.itertuples()]
        lines.append(f"- `{name}`: " + ", ".join(parts))
    if tables.problems:
        lines += ["", "## Problems met while reading", ""]
        lines += [f"- {p}" for p in tables.problems]
    lines += ["", "## Figures", ""]
    for name in plots.FIGURES:
        lines += [f"![{CAPTIONS[name]}]({name}.png)", ""]
    return "\n".join(lines)


__all__ = ["write_report", "markdown_summary", "default_out_dir", "CAPTIONS"]
