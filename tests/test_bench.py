"""The benchmark runs (tiny mode) and reports every variant; speed itself is never asserted."""

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_tiny_mode_writes_json_and_table(tmp_path):
    spec = importlib.util.spec_from_file_location("bench", REPO / "scripts" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    report = bench.main(["--tiny", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "bench.json").read_text())
    assert saved["ratios"] == report["ratios"]
    names = [r["variant"] for r in saved["results"]]
    assert any(n.startswith("A:") for n in names) and any(n.startswith("B:") for n in names)
    assert {"nnjax unlogged", "nnjax logged (every 100)", "nnjax logged + diagnostics"} <= set(names)
    assert any(n.startswith("nnjax 8 configurations vmapped") for n in names)
    assert {"logged + diagnostics / unlogged", "8 vmapped / one unlogged run"} <= set(saved["ratios"])
    assert {"logged", "logged + diagnostics"} <= set(saved["interleaved"])
    assert len(saved["interleaved"]["rounds_s"]) == 2
    for r in saved["results"]:
        assert r["epochs_measured"] == 2 and 0 < r["min_s"] <= r["median_s"] <= r["max_s"]
    job = saved["main_job"]  # the main job's script in a fresh process, one epoch
    for run in ("first", "cached"):
        assert job[run]["summary"]["status"].startswith("completed") and job[run]["wall_s"] > 0
    assert job["peak_rss_mb"] > 100
    assert "| variant |" in (tmp_path / "bench.md").read_text()
