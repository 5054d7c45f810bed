"""End-to-end training throughput of IPPO and BAD on Hanabi, side by side (environment steps/s).

    .venv/bin/python -m benchmarks.bad_hanabi_throughput [--preset=full] [--num_envs=512]

Each method runs `bad.hanabi_learner.train_updates` (acting, environment steps, for BAD the belief
update, the rank-one likelihoods of every partner slot and value, and the PPO learner) on one
configuration; with `--exact_belief` BAD keeps the exact joint belief and its likelihoods cover
every joint hand of the partner. Compilation and one warm-up call are outside the timing. Both
wall-clock and process CPU time are reported: on a shared machine the wall-clock rate drops with
other people's load; the CPU-time rate is the rate with the whole machine (XLA uses every core, so
the CPU-time rate divided by the cores used is a lower bound on an idle machine's wall-clock
rate).
"""

from __future__ import annotations

import time

import jax
from absl import flags

from bad import hanabi_learner
from bad.hanabi_agent import METHODS, AgentConfig
from experiments import common
from games.hanabi_config import make_config

_PRESET = flags.DEFINE_string("preset", "full", "Hanabi preset.")
_METHODS = flags.DEFINE_list("methods", list(reversed(METHODS)), "Methods to measure.")
_NUM_ENVS = flags.DEFINE_integer("num_envs", 512, "Games played side by side.")
_ROLLOUT = flags.DEFINE_integer("rollout_length", 32, "Moves per game per update.")
_EPOCHS = flags.DEFINE_integer("num_epochs", 2, "PPO epochs per rollout.")
_MINIBATCHES = flags.DEFINE_integer("num_minibatches", 4, "PPO minibatches per epoch.")
_UPDATES = flags.DEFINE_integer("updates", 5, "Updates per timed call.")
_REPEATS = flags.DEFINE_integer("repeats", 2, "Timed calls; the best is reported.")
_HIDDEN = flags.DEFINE_list("hidden_sizes", ["256"], "Hidden layer sizes.")
_SAMPLES = flags.DEFINE_integer("likelihood_samples", 1,
                                "BAD: public hands its likelihoods are averaged over.")
_EXACT = flags.DEFINE_bool("exact_belief", False, "BAD: the exact joint belief instead of BB "
                           "(2 players with 2-card hands).")


def measure(method: str) -> tuple[float, float]:
    """(best wall-clock steps/s, its CPU-time steps/s) of `train_updates` for `method`."""
    agent = AgentConfig(make_config(_PRESET.value), method=method,
                        hidden_sizes=tuple(int(h) for h in _HIDDEN.value),
                        likelihood_samples=_SAMPLES.value if method == "bad" else 1,
                        exact_belief=_EXACT.value and method == "bad")
    config = hanabi_learner.TrainConfig(agent=agent, num_envs=_NUM_ENVS.value,
                                        rollout_length=_ROLLOUT.value,
                                        num_epochs=_EPOCHS.value,
                                        num_minibatches=_MINIBATCHES.value)
    state = hanabi_learner.init_train_state(config, jax.random.PRNGKey(0))
    state, _ = hanabi_learner.train_updates(config, state, _UPDATES.value)  # compile, warm up
    jax.block_until_ready(state)
    steps = _UPDATES.value * config.steps_per_update
    best = (0.0, 0.0)
    for _ in range(_REPEATS.value):
        wall, cpu = time.perf_counter(), time.process_time()
        state, _ = hanabi_learner.train_updates(config, state, _UPDATES.value)
        jax.block_until_ready(state)
        rates = (steps / (time.perf_counter() - wall), steps / (time.process_time() - cpu))
        best = max(best, rates)
    return best


def main(argv) -> None:
    del argv
    common.check_positive(num_envs=_NUM_ENVS.value, rollout_length=_ROLLOUT.value,
                          updates=_UPDATES.value, repeats=_REPEATS.value,
                          likelihood_samples=_SAMPLES.value, num_epochs=_EPOCHS.value,
                          num_minibatches=_MINIBATCHES.value)
    for method in _METHODS.value:
        if method not in METHODS:
            raise common.ExperimentError(f"unknown method {method!r}; allowed: {METHODS}.")
    rows = []
    for method in _METHODS.value:
        wall, cpu = measure(method)
        rows.append([method, _PRESET.value, _NUM_ENVS.value, round(wall), round(cpu)])
    print(common.format_table(rows, ["method", "preset", "games", "steps/s (wall)",
                                     "steps/s (CPU time)"]))


if __name__ == "__main__":
    common.run_main(main)
