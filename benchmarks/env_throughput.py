"""Hanabi environment throughput, side by side: steps per second with random legal moves.

    .venv/bin/python -m benchmarks.env_throughput [--sections=a,b] [--steps=N] [--batch_size=B]

Every section plays 2-player Hanabi-Full with uniformly random legal moves and counts one step per
move of one game. Add a section by writing a `measure_*(num_steps, batch_size, seed) -> Throughput`
function (set-up and compilation outside `timed`) and listing it in `SECTIONS`.

Both wall-clock and process CPU time are reported: on a shared machine the wall-clock rate drops
with other people's load, the CPU rate much less (for multi-threaded code it undercounts).
"""

from __future__ import annotations

import random
import time
from typing import Callable, NamedTuple

import numpy as np
from absl import flags

from experiments import common

_SECTIONS = flags.DEFINE_list("sections", None, "Sections to run (default: all).")
_STEPS = flags.DEFINE_integer("steps", 100_000, "Game steps per section.")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Games per batch for batched sections.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed for deals and moves.")


class Throughput(NamedTuple):
    """Game steps played and the time they took."""

    steps: int
    wall_seconds: float
    cpu_seconds: float


def timed(run: Callable[[], int]) -> Throughput:
    """Runs `run` (which returns the number of game steps it played) under both clocks."""
    wall, cpu = time.perf_counter(), time.process_time()
    steps = run()
    return Throughput(steps, time.perf_counter() - wall, time.process_time() - cpu)


def measure_pyspiel_raw(num_steps: int, batch_size: int, seed: int) -> Throughput:
    """One `pyspiel` game in a Python loop, with the mover's `observation_tensor` every step."""
    del batch_size
    # Each section imports what it measures, so that running one loads no other library.
    import pyspiel  # pylint: disable=import-outside-toplevel

    game = pyspiel.load_game("hanabi", {"players": 2})
    rng = random.Random(seed)

    def run() -> int:
        state, steps = game.new_initial_state(), 0
        while steps < num_steps:
            if state.is_terminal():
                state = game.new_initial_state()
            elif state.is_chance_node():
                values, weights = zip(*state.chance_outcomes())
                state.apply_action(rng.choices(values, weights)[0])
            else:
                state.observation_tensor(state.current_player())
                state.apply_action(rng.choice(state.legal_actions()))
                steps += 1
        return steps

    return timed(run)


def measure_hle_rl_env(num_steps: int, batch_size: int, seed: int) -> Throughput:
    """One game through the HLE's own `rl_env`, which builds every player's observation."""
    del batch_size
    from hanabi_learning_environment import rl_env  # pylint: disable=import-outside-toplevel

    env = rl_env.HanabiEnv({"players": 2, "seed": seed})
    rng = random.Random(seed)

    def run() -> int:
        observations, done, steps = env.reset(), False, 0
        while steps < num_steps:
            if done:
                observations = env.reset()
            mover = observations["player_observations"][observations["current_player"]]
            observations, _, done, _ = env.step(rng.choice(mover["legal_moves_as_int"]))
            steps += 1
        return steps

    return timed(run)


def _measure_adapter(backend: str, num_steps: int, batch_size: int, seed: int) -> Throughput:
    from games import hanabi  # pylint: disable=import-outside-toplevel

    game = hanabi.HanabiGame("full", batch_size, seed, backend)
    rng = np.random.default_rng(seed)

    def run() -> int:
        step, steps = game.reset(), 0
        while steps < num_steps:
            step = game.step(hanabi.random_legal_actions(step.legal_actions, rng))
            steps += batch_size
        return steps

    return timed(run)


def measure_adapter_open_spiel(num_steps: int, batch_size: int, seed: int) -> Throughput:
    """`games.hanabi.HanabiGame` on OpenSpiel: all observations, splits and belief inputs."""
    return _measure_adapter("open_spiel", num_steps, batch_size, seed)


def measure_adapter_hle(num_steps: int, batch_size: int, seed: int) -> Throughput:
    """`games.hanabi.HanabiGame` on the HLE: all observations, splits and belief inputs."""
    return _measure_adapter("hle", num_steps, batch_size, seed)


SECTIONS: dict[str, Callable[[int, int, int], Throughput]] = {
    "pyspiel_raw": measure_pyspiel_raw,
    "hle_rl_env": measure_hle_rl_env,
    "adapter_open_spiel": measure_adapter_open_spiel,
    "adapter_hle": measure_adapter_hle,
}


def main(argv: list[str]) -> None:
    del argv
    names = _SECTIONS.value or list(SECTIONS)
    unknown = [name for name in names if name not in SECTIONS]
    if unknown:
        raise common.ExperimentError(
            f"unknown section {unknown[0]!r}; allowed: {', '.join(SECTIONS)}.")
    common.check_positive(steps=_STEPS.value, batch_size=_BATCH_SIZE.value)
    print(f"2-player Hanabi-Full, random legal moves, {_STEPS.value} steps, "
          f"batch {_BATCH_SIZE.value}")
    print(f"{'section':24s} {'steps/s (wall)':>15s} {'steps/s (CPU)':>15s}")
    for name in names:
        steps, wall_seconds, cpu_seconds = SECTIONS[name](_STEPS.value, _BATCH_SIZE.value,
                                                          _SEED.value)
        print(f"{name:24s} {steps / wall_seconds:15,.0f} {steps / cpu_seconds:15,.0f}",
              flush=True)


if __name__ == "__main__":
    common.run_main(main)
