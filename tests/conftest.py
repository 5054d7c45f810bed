"""Fixtures shared by every test directory."""

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE_VARIABLE = "JAX_COMPILATION_CACHE_DIR"
# JAX caches only programs that took a second or more to compile, by default; the tiny programs of
# the tests mostly take less, and a binary test compiles dozens of them in each process it starts:
# caching them all took tests/bad/test_bad_hanabi_binary.py from 135-143 s to 97 s.
MIN_COMPILE_TIME_VARIABLE = "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"
_created_cache: list[str] = []


def pytest_configure(config):
    """One JAX compilation cache for the whole run, of every program: the xdist workers and every
    binary a test starts inherit it, so a program compiled once (the tiny training runs many tests
    repeat) is not compiled again; the same program gives the same numbers either way. Set in the
    process that starts the workers, and removed by it at the end."""
    if CACHE_VARIABLE not in os.environ:
        _created_cache.append(tempfile.mkdtemp(prefix="jax-cache-"))
        os.environ[CACHE_VARIABLE] = _created_cache[0]
        os.environ[MIN_COMPILE_TIME_VARIABLE] = "0"


def pytest_unconfigure(config):
    for path in _created_cache:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def run_on_two_host_devices():
    """`run(script) -> stdout`: runs Python code in a fresh interpreter that sees two CPU devices.

    XLA reads `--xla_force_host_platform_device_count` when jax starts, hence the fresh
    interpreter. A non-zero exit fails the test with the script's stderr.
    """
    def run(script: str) -> str:
        env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
                   JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    return run


def _replay_hle_game(env, state, ranks: int) -> Iterator[int]:
    """Applies the game `env` (an HLE `rl_env`) last played to the OpenSpiel `state`, deals
    included; yields each player move's action id just before applying it."""
    from hanabi_learning_environment import pyhanabi

    for item in env.state.move_history():
        move = item.move()
        if move.type() == pyhanabi.HanabiMoveType.DEAL:
            if not state.is_terminal():  # HLE deals once more after a game-ending move
                state.apply_action(move.color() * ranks + move.rank())
            continue
        action = env.game.get_move_uid(move)
        yield action
        state.apply_action(action)


@pytest.fixture
def replay_hle_game():
    """`replay_hle_game(env, state, ranks)`: an HLE game's deals and moves applied to an
    OpenSpiel state, yielding each move's action id before it is applied (see `_replay_hle_game`).
    """
    return _replay_hle_game
