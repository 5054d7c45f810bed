"""Pure-JAX Hanabi against JaxMARL 0.2.0's Hanabi: steps per second and memory per game.

    .venv/bin/python -m benchmarks.jax_hanabi_throughput [--batch_sizes=256,1024,4096]
        [--steps=100] [--rounds=5] [--min_round_seconds=3]
        [--jaxmarl_python=.bench_jaxmarl/bin/python]

Protocol, the same for every contender: 2-player Hanabi-Full, `batch_size` games stepped
`steps` times inside one jitted `lax.scan` (`benchmarks.jax_scan`). Each step of each game:
compute the legal-move mask, draw a uniformly random legal action, step, and replace a finished
game by a newly dealt one. One step is one move of one game. Contenders, per batch size:

* `hanabi_jax`: ours, `games.hanabi.jax_game.step_batch`, which deals only the games that ended;
* `JaxMARL env.step`: JaxMARL as its users call it, `vmap` of `env.step`, which deals a new game
  for every game at every step and selects it where the game ended;
* `JaxMARL step_env, reset ended`: like for like, `vmap` of `env.step_env` and `env.reset` of
  only the games that ended, by the same rule as ours (`jax_scan.replace_ended`).

The plain tables leave observations unused (ours are not computed; XLA prunes JaxMARL's). The
"every observation" tables compute every player's observation each step and sum it so that XLA
cannot prune it: the same work on both sides. Notes give the game state's bytes and the compiled
scan's peak (XLA's memory analysis) per game.

JaxMARL lives in its own virtualenv, apart from the project's: `python3 -m venv .bench_jaxmarl &&
.bench_jaxmarl/bin/pip install jaxmarl==0.2.0`. Its contenders run there (`jaxmarl_worker`),
interleaved with ours round by round; without it, a note says so and ours is measured alone.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
from absl import flags

from benchmarks import harness, jax_scan

_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["256", "1024", "4096"], "Games per batch.")
_STEPS = flags.DEFINE_integer("steps", 100, "Steps per game in each call (one scan).",
                              lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed for deals and moves.")
_JAXMARL_PYTHON = flags.DEFINE_string(
    "jaxmarl_python", os.path.join(".bench_jaxmarl", "bin", "python"),
    "Interpreter of the virtualenv holding jaxmarl==0.2.0.")
_ROUNDS, _MIN_SECONDS = harness.define_round_flags()

INSTALL_HINT = ("python3 -m venv .bench_jaxmarl && "
                ".bench_jaxmarl/bin/pip install jaxmarl==0.2.0")


def ours(batch_size: int, num_steps: int, seed: int, with_observations: bool) -> harness.Timed:
    """`games.hanabi.jax_game` on 2-player Full with `step_batch`'s auto-reset."""
    from games.hanabi import jax_game as hanabi_jax
    from games.hanabi.config import make_config

    config = make_config("full")
    players = jnp.arange(config.players)

    def one_step(state, key):
        act_key, reset_key = jax.random.split(key)
        masks = jax.vmap(lambda s: hanabi_jax.legal_actions_mask(config, s))(state)
        actions = jax_scan.random_legal_actions(act_key, masks)
        state, rewards, _, _ = hanabi_jax.step_batch(config, state, actions, reset_key)
        total = rewards[:, 0].sum()
        if with_observations:
            observations = jax.vmap(lambda s: jax.vmap(
                lambda p: hanabi_jax.observation(config, s, p))(players))(state)
            total = total + observations.sum()  # keeps them from being pruned
        return state, total

    key, reset_key = jax.random.split(jax.random.PRNGKey(seed))
    state = hanabi_jax.reset_batch(config, reset_key, batch_size)
    return jax_scan.scan_contender("hanabi_jax", one_step, state, key, batch_size, num_steps)


def compare_batch(batch_size: int, with_observations: bool) -> None:
    """One interleaved table: ours and, when its virtualenv is there, JaxMARL's two ways."""
    spec = {"batch_size": batch_size, "steps": _STEPS.value, "seed": _SEED.value,
            "with_observations": with_observations}
    contender = ours(batch_size, _STEPS.value, _SEED.value, with_observations)
    worker = harness.start_worker("JaxMARL", _JAXMARL_PYTHON.value, "benchmarks.jaxmarl_worker",
                                  spec, INSTALL_HINT)
    title = (f"2-player Hanabi-Full, {batch_size} games, {_STEPS.value} steps per call, random "
             f"legal moves, {'every observation computed' if with_observations else 'no obs'}; "
             f"jax {jax.__version__} on {jax.devices()[0].platform}")
    harness.compare_with_worker(title, "steps", [contender], worker, _ROUNDS.value,
                                _MIN_SECONDS.value)


def main() -> None:
    batch_sizes = harness.positive_ints("batch_sizes", _BATCH_SIZES.value)
    for batch_size in batch_sizes:
        for with_observations in (False, True):
            compare_batch(batch_size, with_observations)


if __name__ == "__main__":
    harness.run(main)
