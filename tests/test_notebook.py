"""CI executes notebooks/retrain.ipynb end to end on a small market (nbclient, a real kernel)."""

import os
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "retrain.ipynb"


def test_retrain_notebook_runs(monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("GIGMATCH_NB_WORKERS", "2000")
    monkeypatch.setenv("GIGMATCH_NB_JOBS", "500")
    monkeypatch.setenv("GIGMATCH_NB_DAYS", "15")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    )
    client.execute(env=dict(os.environ))
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert not errors
    images = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if "image/png" in o.get("data", {})
    ]
    assert len(images) >= 3  # NDCG by model, feature importance, calibration
