"""Executes every notebook in colabs/ with small settings (COLAB_TEST=1)."""

import os
import pathlib

import nbformat
import pytest
from nbclient import NotebookClient

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "colabs").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
    monkeypatch.setenv("COLAB_TEST", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO)}})
    client.execute()


def test_notebooks_open_with_badge_and_install_cell():
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        assert "colab.research.google.com" in cells[0].source, path.name
        assert any("pip install" in c.source for c in cells[:3]), path.name
