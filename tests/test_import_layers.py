"""The packages' import layers: no circles, data flowing one way, optional extras optional.

The static checks read every library module's imports (those under `TYPE_CHECKING` included, since
a type declared too high up is how circles start); the others import modules in a fresh
interpreter and look at what got loaded.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("infra", "games", "graphnets", "bad", "experiments")
# Which packages each package may import (its own modules always).
ALLOWED = {
    "infra": set(),
    "games": {"infra"},
    "graphnets": {"infra"},
    "bad": {"infra", "games"},
    "experiments": {"infra", "games", "graphnets", "bad"},
}


def _module_files() -> dict[str, str]:
    modules = {}
    for package in PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    modules[module.removesuffix(".__init__")] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    """Module -> the project's modules it imports (`from pkg import mod` counts as `pkg.mod`)."""
    modules = _module_files()
    graph = {}
    for module, path in modules.items():
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [f"{node.module}.{alias.name}"
                         if f"{node.module}.{alias.name}" in modules else node.module
                         for alias in node.names]
            else:
                continue
            imported.update(name for name in names if name in modules and name != module)
        graph[module] = imported
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_circles_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles():
    assert circles(import_graph()) == []


def test_packages_import_only_the_layers_below():
    wrong = [f"{module} imports {target}" for module, targets in sorted(import_graph().items())
             for target in sorted(targets)
             if target.split(".")[0] != module.split(".")[0]
             and target.split(".")[0] not in ALLOWED[module.split(".")[0]]]
    assert wrong == []


def _loaded_after(statement: str, blocked: tuple[str, ...] = ()) -> set[str]:
    """Top-level packages loaded by `statement` in a fresh interpreter, with `blocked` made
    unimportable (as if not installed)."""
    script = ("import sys\n"
              f"for name in {blocked!r}: sys.modules[name] = None\n"
              f"{statement}\n"
              "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return set(result.stdout.split())


def test_the_jax_hanabi_loads_no_graph_library():
    loaded = _loaded_after("import games.hanabi.jax_game")
    assert not loaded & {"graphnets", "bad", "haiku", "jraph", "networkx", "experiments"}


def test_a_graph_network_demo_loads_no_bad():
    loaded = _loaded_after("import experiments.gn_sort")
    assert not loaded & {"bad", "games", "hanabi_learning_environment"}


@pytest.mark.parametrize("statement", [
    "import bad.hanabi.agents, bad.hanabi.learner, bad.hanabi.evaluation, bad.matrix_game",
    "import experiments.bad_hanabi",
])
def test_bad_runs_without_the_hle_but_for_its_player(statement):
    loaded = _loaded_after(statement, blocked=("hanabi_learning_environment",))
    assert "bad" in loaded


def test_the_hle_player_is_loaded_on_first_use():
    pytest.importorskip("hanabi_learning_environment")
    loaded = _loaded_after("import bad.hanabi.agents\n"
                           "assert 'bad.hanabi.hle_player' not in sys.modules\n"
                           "bad.hanabi.agents.HleAgent")
    assert "hanabi_learning_environment" in loaded
