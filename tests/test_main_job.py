"""The README's main job, ``scripts/example_with_logging.py``, end to end in a fresh process (one
epoch instead of 30): the log, the printed summary and every figure of the report."""

import json
import subprocess
import sys
from pathlib import Path

from nnjax.diagnostic_plots import FIGURES as DIAGNOSTIC_FIGURES
from nnjax.plots import FIGURES

REPO = Path(__file__).resolve().parents[1]


def test_the_main_job_writes_its_log_and_a_report_with_every_figure(mnist_dir, tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "example_with_logging.py"), "--epochs", "1",
         "--log-dir", str(tmp_path / "logs"), "--report-dir", str(tmp_path / "reports")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "status:         completed after 1 epochs" in done.stdout
    assert "diagnosis:      no flags" in done.stdout

    (log,) = (tmp_path / "logs").glob("training_*.jsonl")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    types = [r["type"] for r in records]
    assert types.count("epoch_end") == 1 and types.count("mini_batch") == 50
    assert types.count("probe_stats") == 1 and "evaluation_report" in types
    assert "activation_pattern" in types

    report = tmp_path / "reports" / log.stem
    expected = {f"{name}.png" for name in (*FIGURES, *DIAGNOSTIC_FIGURES)} | {"summary.md"}
    assert {p.name for p in report.iterdir()} == expected  # the gallery of misclassified digits too
    assert f"{len(expected) - 1} figures + summary.md" in done.stdout
