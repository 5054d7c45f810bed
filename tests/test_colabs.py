"""Every notebook in colabs/ executes with small settings (COLAB_TEST=1) without being rewritten,
opens with an "Open in Colab" badge and installs from the same repository as the others."""

import importlib.util
import pathlib

import nbformat
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "colabs").glob("*.ipynb"))
# Executed under `-m slow` only: their training runs are the binaries' own, tested by default.
SLOW_NOTEBOOKS = {"bad_matrix_game", "relation_network_sort_of_clevr"}


def load_executor():
    """`colabs/execute.py`, the module `make colabs` runs (colabs/ is not a package)."""
    spec = importlib.util.spec_from_file_location("colabs_execute", REPO / "colabs" / "execute.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("path", [
    pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in SLOW_NOTEBOOKS else [])
    for p in NOTEBOOKS])
def test_notebook_executes_and_stays_as_saved(path, monkeypatch):
    executor = load_executor()
    for name, value in executor.SMALL_SETTINGS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    saved = path.read_bytes()
    executed = executor.execute(path)
    assert all(cell.get("execution_count") for cell in executed.cells
               if cell.cell_type == "code" and cell.source.strip())
    assert path.read_bytes() == saved


def test_notebooks_name_no_address_and_install_from_the_one_given():
    """The project has no public address yet: no notebook claims one (no Colab badge, no
    install line naming a host); in Colab each installs from the `REPOSITORY` its reader sets."""
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        assert not any("github.com" in c.source or "colab-badge" in c.source for c in cells), (
            path.name)
        installs = [c.source for c in cells[:3] if "pip install" in c.source]
        assert installs and "git+{REPOSITORY}" in installs[0], path.name
        assert 'REPOSITORY = ""' in installs[0], path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_saved_with_its_outputs(path):
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code), "run `make colabs`"
    assert any(output.get("data", {}).get("image/png") for cell in code
               for output in cell.outputs), "no plot saved"


def test_executor_refuses_bad_paths_before_any_work(capsys):
    assert load_executor().main([str(REPO / "colabs" / "missing.ipynb")]) == 1
    assert capsys.readouterr().err.startswith("error: expected paths of existing .ipynb files")
