"""Hanabi environment throughput: our adapters against raw OpenSpiel and HLE loops (steps/s).

    .venv/bin/python -m benchmarks.env_throughput [--backends=open_spiel,hle] [--steps=20000]
        [--batch_size=256] [--rounds=5] [--min_round_seconds=3]

Every contender plays 2-player Hanabi-Full with uniformly random legal moves and counts one step
per move of one game; each call plays about `--steps` steps, the games carrying on from call to
call. Per backend, one interleaved table:

* `open_spiel`: `games.hanabi.HanabiGame` on OpenSpiel (batches of `--batch_size` games with
  every observation, the public/private split and the belief inputs) against one `pyspiel` game
  in a Python loop that reads the mover's `observation_tensor` every step;
* `hle`: `HanabiGame` on the HLE against one game through the HLE's own `rl_env`, which builds
  every player's observation.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import numpy as np
from absl import flags

from benchmarks import harness

_BACKENDS = flags.DEFINE_list("backends", ["open_spiel", "hle"], "Backends to compare on.")
_STEPS = flags.DEFINE_integer("steps", 20_000, "Game steps per call.", lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Games per batch of the adapters.",
                                   lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed for deals and moves.")
_ROUNDS, _MIN_SECONDS = harness.define_round_flags()


def pyspiel_loop(num_steps: int, seed: int) -> Callable[[], float]:
    """A call playing `num_steps` moves of one `pyspiel` game, reading the mover's tensor."""
    # Each contender imports what it measures, so that one backend loads no other library.
    import pyspiel

    game = pyspiel.load_game("hanabi", {"players": 2})
    rng = random.Random(seed)
    state = game.new_initial_state()

    def call() -> float:
        nonlocal state
        steps = 0
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
        return float(steps)

    return call


def hle_rl_env_loop(num_steps: int, seed: int) -> Callable[[], float]:
    """A call playing `num_steps` moves of one game through the HLE's `rl_env`."""
    from hanabi_learning_environment import rl_env

    env = rl_env.HanabiEnv({"players": 2, "seed": seed})
    rng = random.Random(seed)
    observations, done = env.reset(), False

    def call() -> float:
        nonlocal observations, done
        for _ in range(num_steps):
            if done:
                observations = env.reset()
            mover = observations["player_observations"][observations["current_player"]]
            observations, _, done, _ = env.step(rng.choice(mover["legal_moves_as_int"]))
        return float(num_steps)

    return call


def adapter_loop(backend: str, num_steps: int, batch_size: int,
                 seed: int) -> Callable[[], float]:
    """A call stepping `games.hanabi.HanabiGame` batches for at least `num_steps` moves."""
    from games import hanabi

    game = hanabi.HanabiGame("full", batch_size, seed, backend)
    rng = np.random.default_rng(seed)
    step = game.reset()
    batches = -(-num_steps // batch_size)

    def call() -> float:
        nonlocal step
        for _ in range(batches):
            step = game.step(hanabi.random_legal_actions(step.legal_actions, rng))
        return float(batches * batch_size)

    return call


PEERS: dict[str, tuple[str, Callable[[int, int], Callable[[], float]]]] = {
    "open_spiel": ("pyspiel loop", pyspiel_loop),
    "hle": ("HLE rl_env", hle_rl_env_loop),
}


def main() -> None:
    harness.check_choices("backends", _BACKENDS.value, list(PEERS))
    for backend in _BACKENDS.value:
        peer_name, peer_loop = PEERS[backend]
        contenders = [
            harness.Timed(f"HanabiGame ({backend}, batch {_BATCH_SIZE.value})",
                          adapter_loop(backend, _STEPS.value, _BATCH_SIZE.value, _SEED.value)),
            harness.Timed(peer_name, peer_loop(_STEPS.value, _SEED.value))]
        harness.compare(f"2-player Hanabi-Full on {backend}, random legal moves, about "
                        f"{_STEPS.value} steps per call", "steps", contenders,
                        _ROUNDS.value, _MIN_SECONDS.value)


if __name__ == "__main__":
    harness.run(main)
