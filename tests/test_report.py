"""``nnjax train``, ``nnjax report`` and the analysis notebook, on the logs of short real runs.

Three runs are trained once for the module through the command line (2,000 MNIST images, 2–3
epochs): the main network, one without test data and one with three hidden layers. With a copy of
the first whose last line is torn and the golden seed-format log, that makes the five kinds of log
the report and the notebook must handle.
"""

import contextlib
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nnjax import analysis, cli, report

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "analyze_training.ipynb"
SEED_LOG = Path(__file__).parent / "data" / "seed_format.jsonl"
GOLDEN_LOG = Path(__file__).parent / "data" / "nnjax_format.jsonl"
PNGS = {"accuracy.png", "weights.png", "gradients.png", "timing.png", "summary.png"}
DIAGNOSTIC_FIGURES = ("weight_histograms", "gradient_histograms", "saturation", "update_ratio",
                      "confusion", "misclassified")
KINDS = ("main", "torn", "no_test", "deep", "seed")


def run_cli(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as exc:  # --help, argparse
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def runs(mnist, tmp_path_factory):
    """kind → (log file, stdout, stderr of ``nnjax train``)."""
    root = tmp_path_factory.mktemp("runs")
    out = {}
    for kind, extra in (("main", ["--epochs", 3]),
                        ("no_test", ["--epochs", 2, "--no-test", "--no-progress"]),
                        ("deep", ["--epochs", 2, "--sizes", 784, 16, 16, 16, 10, "--init", "scaled_normal",
                                  "--test-subset", 2000, "--no-progress"])):
        code, stdout, stderr = run_cli("train", "--subset", 2000, "--log-dir", root / kind, *extra)
        assert code == 0, stderr
        (log,) = (root / kind).glob("*.jsonl")
        out[kind] = (log, stdout, stderr)
    torn = root / "torn" / "training_torn.jsonl"
    torn.parent.mkdir()
    text = out["main"][0].read_text()
    torn.write_text(text[: len(text) - 30])  # killed in the middle of writing its last line
    out["torn"] = (torn, "", "")
    out["seed"] = (SEED_LOG, "", "")
    return out


def test_train_shows_progress_per_epoch_then_the_summary(runs):
    log, stdout, stderr = runs["main"]
    assert "3/3" in stderr and "acc=" in stderr and "best=" in stderr  # the tqdm bar
    assert "status:         completed after 3 epochs" in stdout
    assert "best accuracy:" in stdout and f"log:            {log}" in stdout
    diagnosis = json.loads(log.read_text().splitlines()[-2])  # just before training_complete
    assert diagnosis["type"] == "diagnosis" and diagnosis["summary"]
    for line in diagnosis["summary"]:  # the flags, or "no flags", as the log has them
        assert f"diagnosis:      {line}" in stdout
    assert "Traceback" not in stderr


def test_train_passes_every_knob_to_the_run(runs):
    records = [json.loads(line) for line in runs["deep"][0].read_text().splitlines()]
    start = records[0]
    assert start["config"]["sizes"] == [784, 16, 16, 16, 10]
    assert start["config"]["init"] == "scaled_normal" and start["config"]["epochs"] == 2
    assert start["data"]["n_train"] == 2000 and start["data"]["n_test"] == 2000
    no_test = json.loads(runs["no_test"][0].read_text().splitlines()[0])
    assert no_test["data"]["n_test"] is None
    assert "accuracy:       - (no test data)" in runs["no_test"][1]


def test_the_five_logs_read_as_expected(runs):
    tables = {kind: analysis.read_logs(runs[kind][0]) for kind in KINDS}
    assert tables["main"].runs.loc[0, "status"] == "completed"
    assert tables["main"].runs.loc[0, "best_accuracy"] > 50  # 2,000 images, 3 epochs: far above chance
    assert tables["torn"].runs.loc[0, "status"] == "incomplete"
    assert "incomplete last line" in tables["torn"].problems[0]
    assert tables["no_test"].epochs["accuracy_percent"].isna().all()
    assert tables["deep"].n_layers == 4 and set(tables["deep"].gradients["layer"]) == {0, 1, 2, 3}
    assert tables["seed"].runs.loc[0, "format"] == "seed"


@pytest.mark.parametrize("kind", KINDS)
def test_report_writes_the_five_pngs_and_the_summary(runs, kind, tmp_path):
    code, stdout, stderr = run_cli("report", runs[kind][0], "--out", tmp_path / "r")
    assert code == 0, stderr
    written = {p.name for p in (tmp_path / "r").iterdir()}
    assert PNGS | {"summary.md"} <= written
    diagnostic = {f"{f}.png" for f in DIAGNOSTIC_FIGURES}
    if kind in ("main", "torn", "deep"):  # trained with diagnostics (the default): their figures too
        assert written - PNGS - {"summary.md"} == diagnostic
    elif kind == "no_test":  # no test set: no confusion matrix, no gallery
        assert written - PNGS - {"summary.md"} == diagnostic - {"confusion.png", "misclassified.png"}
    else:
        assert written == PNGS | {"summary.md"}
    for name in PNGS:
        data = (tmp_path / "r" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    md = (tmp_path / "r" / "summary.md").read_text()
    assert "## Is it still learning?" in md and "## Which layer changes most?" in md
    assert ("## Why is it stuck? Diagnosis" in md) == (kind != "seed")
    assert f"report:         {tmp_path / 'r'}" in stdout
    if kind == "torn":
        lines = runs["main"][0].read_text().count("\n")
        assert f"line {lines}: incomplete last line" in stderr and "Problems met" in md
    else:
        assert stderr == ""


def test_plotting_fifty_runs_leaves_no_figure_open(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.close("all")
    template = GOLDEN_LOG.read_text()
    for i in range(50):
        (tmp_path / f"run_{i:02d}.jsonl").write_text(
            template.replace("20261203_120000_golden01", f"run{i:02d}").replace("9238", str(9238 - i)))
    tables = analysis.read_logs(tmp_path)
    assert len(tables.runs) == 50
    written = report.write_report(tables, tmp_path / "report", dpi=30)  # small: this is about closing
    assert set(written) == PNGS | {"summary.md"}
    assert plt.get_fignums() == []


def test_notebook_executes_headless_against_each_kind_of_log(runs, tmp_path, monkeypatch):
    """One kernel (ipykernel from this venv, registered here under a private name so a fresh
    machine needs nothing but ``pip install -e '.[test]'``), the whole notebook once per log:
    the first time through ``NNJAX_LOGS`` in the kernel's environment, then set in the kernel."""
    import nbformat
    from nbclient import NotebookClient

    spec = tmp_path / "jupyter" / "kernels" / "nnjax-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nnjax tests", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv(analysis.LOGS_ENV, str(runs[KINDS[0]][0]))
    client = NotebookClient(nbformat.read(NOTEBOOK, as_version=4), kernel_name="nnjax-test",
                            timeout=300, resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    with client.setup_kernel():
        for i, kind in enumerate(KINDS):
            nb = nbformat.read(NOTEBOOK, as_version=4)
            client.nb = nb
            if i:  # later passes: smaller inline images, to save time; the same code runs
                client.execute_cell(nbformat.v4.new_code_cell(
                    f"%reset -f\nimport os\nos.environ[{analysis.LOGS_ENV!r}] = {str(runs[kind][0])!r}\n"
                    "%config InlineBackend.print_figure_kwargs = {'bbox_inches': None, 'dpi': 30}"), 0)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)  # raises CellExecutionError on any error
            outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
            assert not [o for o in outputs if o.output_type == "error"]
            text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
            assert str(runs[kind][0]) in text, kind  # it read the log it was pointed at
            images = [o for o in outputs if "image/png" in o.get("data", {})]
            # accuracy, weights, gradients, timing; then the diagnostics: histograms ×2,
            # saturation, update ratio, and with a test set the confusion matrix and the gallery
            extra = {"main": 6, "torn": 6, "deep": 6, "no_test": 4, "seed": 0}[kind]
            assert len(images) == 4 + extra, kind
            if kind == "torn":
                assert "warning:" in text and "incomplete last line" in text


def test_the_committed_notebook_has_no_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(not c["outputs"] and c["execution_count"] is None for c in code)
    source = "".join("".join(c["source"]) for c in code)
    assert "def " not in source and "fit(" not in source  # reading and plotting live in the package


# -- user mistakes: one line on stderr, exit status 2, no traceback --------------------------------
@pytest.mark.parametrize("argv, message", [
    ([], "choose a command"),
    (["report", "no/such/log.jsonl"], "does not exist"),
    (["report"], "the following arguments are required: LOG"),
    (["report", SEED_LOG, "--threshold", "-1"], "argument --threshold"),
    (["train", "--epochs", "0"], "argument --epochs: expected a positive whole number, got 0"),
    (["train", "--epochs", "ten"], "argument --epochs"),
    (["train", "-lr", "-3"], "argument -lr/--learning-rate/--eta"),
    (["train", "--activation", "swish"], "invalid choice: 'swish'"),
    (["train", "--sizes", "784", "x", "10"], "argument --sizes"),
    (["train", "--sizes", "784"], "at least two layers"),
    (["train", "--data-dir", "no/such/folder"], "--data-dir no/such/folder: no such folder"),
    (["train", "--log-dir", "/proc/nnjax-cannot-write-here"], "cannot write logs"),
    (["train", "--subset", "60000", "--no-log"], "--subset 60000 is more than the 50000"),
    (["train", "--sizes", "783", "30", "10", "--no-log"], "images have 784 pixels"),
])
def test_user_mistakes_print_one_line_and_exit_2(mnist, argv, message):
    code, stdout, stderr = run_cli(*argv)
    assert code == 2
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert message in stderr and "Traceback" not in stderr


def test_an_empty_log_is_a_user_mistake(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, _, stderr = run_cli("report", empty)
    assert code == 2 and "no log records" in stderr and len(stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["train", "report"])
def test_help_shows_examples(command):
    code, stdout, _ = run_cli(command, "--help")
    assert code == 0 and "examples:" in stdout and f"nnjax {command}" in stdout


def test_the_console_script_is_installed_and_reports_mistakes_without_traceback(tmp_path):
    script = Path(sys.executable).parent / "nnjax"
    assert script.exists(), "pip install -e . installs the nnjax command"
    done = subprocess.run([str(script), "report", str(tmp_path / "missing.jsonl")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip() == f"nnjax report: error: log file {tmp_path / 'missing.jsonl'} does not exist"


def test_report_of_a_folder_of_logs_goes_to_reports_by_default(runs, tmp_path, monkeypatch):
    folder = tmp_path / "all"
    folder.mkdir()
    kinds = ("main", "torn", "seed")
    for i, kind in enumerate(kinds):
        shutil.copy(runs[kind][0], folder / f"{i}_{kind}.jsonl")
    monkeypatch.chdir(tmp_path)
    code, _, stderr = run_cli("report", "all")
    assert code == 0 and "incomplete last line" in stderr
    out = tmp_path / "reports" / "0_main+2"  # named after the first log, plus how many more
    names = {p.name for p in out.iterdir()}
    assert PNGS | {"summary.md"} <= names
    # each run with diagnostics gets its own figures, prefixed with its log's name
    assert {"0_main_saturation.png", "1_torn_confusion.png"} <= names
    assert not any(n.startswith("2_seed") for n in names)
    md = (out / "summary.md").read_text()
    assert all(f"`{i}_{kind}`" in md for i, kind in enumerate(kinds))
