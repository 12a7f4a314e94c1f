"""The functional-API notebook executes headless, top to bottom, against the real MNIST files.

The kernel is the interpreter running the tests (a kernelspec installed into a temporary folder
that ``JUPYTER_PATH`` puts first), so a fresh ``pip install -e '.[test]'`` is all it needs. After the
notebook's own cells, one extra cell (added here, never saved) reports what the notebook computed.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
kernelspec = pytest.importorskip("ipykernel.kernelspec")

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "functional_api.ipynb"
ALLOWED_IMPORTS = {"nnjax", "jax", "optax", "numpy", "matplotlib"}
CLASS_API = ("NeuralNetwork", "LoggedNeuralNetwork", "MNISTLoader")
MARKER = "NNJAX_NOTEBOOK_RESULTS "

REPORT = f"""
import json as _json
print({MARKER!r} + _json.dumps({{
    "fd_ok": bool(fd_ok),
    "sigmoid_accuracy": [float(a) for a in sigmoid_accuracy],
    "softplus_accuracy": [float(a) for a in softplus_accuracy],
    "logged_status": run.status,
    "logged_best_accuracy": float(run.best_accuracy),
    "logged_activation": str(tables.runs["activation"].iloc[0]) if "activation" in tables.runs else None,
    "epochs_in_log": int(len(tables.epochs)),
    "gradient_rows": int(len(tables.gradients)),
    "seed_accuracy": {{k: [float(a) for a in v] for k, v in seed_accuracy.items()}},
}}))
"""


def _code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def test_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in _code_cells(nb):
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_notebook_imports_only_nnjax_jax_optax_numpy_matplotlib_and_no_classes():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    imported = set()
    for cell in _code_cells(nb):
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module.split(".")[0])
        for name in CLASS_API:
            assert name not in cell.source, f"the notebook uses {name}: it is about the functional API"
    assert imported <= ALLOWED_IMPORTS, imported - ALLOWED_IMPORTS
    assert {"nnjax", "jax", "optax"} <= imported


@pytest.fixture()
def kernel_name(tmp_path, monkeypatch) -> str:
    """A kernelspec for this very interpreter, found first whatever else is installed."""
    prefix = tmp_path / "jupyter-prefix"
    name = f"nnjax-test-{os.getpid()}"
    kernelspec.install(kernel_name=name, prefix=str(prefix))
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    spec = kernelspec.get_kernel_dict()
    assert spec["argv"][0] == sys.executable
    return name


def test_notebook_runs_top_to_bottom_and_its_numbers_hold(mnist_dir, tmp_path, kernel_name,
                                                          monkeypatch):
    monkeypatch.setenv("NNJAX_DATA_DIR", str(mnist_dir))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # figures as PNG outputs
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REPORT))
    workdir = tmp_path / "run"
    workdir.mkdir()
    client = nbclient.NotebookClient(nb, kernel_name=kernel_name, timeout=900,
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, if any cell fails

    text = "".join(out.get("text", "") for out in nb.cells[-1].outputs if out.output_type == "stream")
    results = json.loads(text.split(MARKER, 1)[1])
    assert results["fd_ok"], "jax.grad disagreed with finite differences"
    # chance is 10 %; a few epochs on 10,000 images reach ~90 % (loose: seeds and machines vary)
    assert results["softplus_accuracy"][-1] > 50.0, results["softplus_accuracy"]
    assert results["sigmoid_accuracy"][-1] > 50.0, results["sigmoid_accuracy"]
    assert results["logged_status"] == "completed"
    assert results["logged_best_accuracy"] > 50.0
    assert results["logged_activation"] == "softplus"  # a user's function, logged by its name
    assert results["epochs_in_log"] == 3 and results["gradient_rows"] > 0
    for name, accuracies in results["seed_accuracy"].items():
        assert len(accuracies) == 8 and min(accuracies) > 10.0, (name, accuracies)
    assert len(list((workdir / "logs").glob("*.jsonl"))) == 1  # the log went to the notebook's folder
    images = [out for cell in nb.cells for out in cell.get("outputs", [])
              if "image/png" in out.get("data", {})]
    assert len(images) >= 4  # the digits, the logged gradients, the loop's gradients, the seeds
