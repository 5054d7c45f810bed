"""Executes notebooks with their small settings and saves them with their outputs, in place.

Usage: `python colabs/execute.py NOTEBOOK.ipynb ...` (`make colabs` runs it on every notebook).
The kernel is this interpreter's (the project's virtual environment), started in the repository
root with `COLAB_TEST=1`, the switch each notebook reads for its small settings, and the inline
matplotlib backend, so the saved outputs hold the plots. The test suite executes the notebooks
through `execute` as well, without saving them.
"""

from __future__ import annotations

import os
import pathlib
import sys

import nbformat
from nbclient import NotebookClient

REPO = pathlib.Path(__file__).resolve().parents[1]
SMALL_SETTINGS = {"COLAB_TEST": "1"}
INLINE_PLOTS = {"MPLBACKEND": "module://matplotlib_inline.backend_inline"}
TIMEOUT_S = 600  # per cell


def execute(path: pathlib.Path) -> nbformat.NotebookNode:
    """The notebook at `path` after running all its cells in a fresh kernel, which inherits this
    process's environment; a failing cell raises `nbclient.exceptions.CellExecutionError`."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=TIMEOUT_S, kernel_name="python3",
                            record_timing=False, resources={"metadata": {"path": str(REPO)}})
    client.execute()
    return notebook


def main(paths: list[str]) -> int:
    """Executes and saves each notebook; refuses the call before any work if a path is wrong."""
    missing = [p for p in paths if not (p.endswith(".ipynb") and pathlib.Path(p).is_file())]
    if not paths or missing:
        print(f"error: expected paths of existing .ipynb files, got {missing or 'none'}",
              file=sys.stderr)
        return 1
    os.environ.update(SMALL_SETTINGS | INLINE_PLOTS)
    for path in map(pathlib.Path, paths):
        nbformat.write(execute(path), path)
        print(f"executed and saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
