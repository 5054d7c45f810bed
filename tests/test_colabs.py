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


def repository_url() -> str:
    """The address the first notebook installs from in Colab. setup.cfg names none (the project
    has no public address yet), so the notebooks are held to agree with each other."""
    cells = nbformat.read(NOTEBOOKS[0], as_version=4).cells
    install = next(c.source for c in cells[:3] if "pip install" in c.source)
    return install.split("git+", 1)[1].split()[0]


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


def test_notebooks_open_with_badge_and_install_from_the_repository():
    url = repository_url()
    owner_and_name = url.removeprefix("https://github.com/")
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        badge = (f"https://colab.research.google.com/github/{owner_and_name}/blob/main/colabs/"
                 f"{path.name}")
        assert badge in cells[0].source, path.name
        installs = [c.source for c in cells[:3] if "pip install" in c.source]
        assert installs and f"git+{url}" in installs[0], path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_saved_with_its_outputs(path):
    code = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    assert all(cell.get("execution_count") for cell in code), "run `make colabs`"
    assert any(output.get("data", {}).get("image/png") for cell in code
               for output in cell.outputs), "no plot saved"


def test_executor_refuses_bad_paths_before_any_work(capsys):
    assert load_executor().main([str(REPO / "colabs" / "missing.ipynb")]) == 1
    assert capsys.readouterr().err.startswith("error: expected paths of existing .ipynb files")
