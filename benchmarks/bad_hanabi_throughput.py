"""End-to-end training throughput of IPPO and BAD on Hanabi, side by side (environment steps/s).

    .venv/bin/python -m benchmarks.bad_hanabi_throughput [--preset=full] [--players=0]
        [--num_envs=256] [--methods=ippo,bad] [--rounds=5] [--min_round_seconds=5]

The default call measures each method on 2-player Full with the learner's default settings
(256 games, `TrainConfig`'s rollout, epochs and minibatches) in 5 interleaved rounds of at least
5 seconds each, after an untimed call that compiles: about a minute of timing, plus compilation.

Each call runs `bad.hanabi.learner.train_updates` for `--updates` updates (acting, environment
steps, for BAD the belief update, the rank-one likelihoods of every partner slot and value, and
the PPO learner); with `--exact_belief` BAD keeps the exact joint belief and its likelihoods cover
every joint hand of the partner. The first method listed is the reference of the ratios. The
rate per CPU-second is the rate with the whole machine (XLA uses every core), so on a shared
machine it is the steadier figure.

`--parts` says where an update's time goes, for the first method listed: it times the update's
two halves, `hanabi_learner.rollout` and `hanabi_learner.learn` (steps/s of each; an update takes
the sum of their times), then the pieces of one move of every game, each compiled on its own
(moves/s): the observation, the public context (belief and samples), the actor's decision, the
public belief's update with the move (`observe`: BAD's counterfactual likelihoods), the critic's
value and the environment step.

    .venv/bin/python -m benchmarks.bad_hanabi_throughput --methods=bad --parts

`--cost` times nothing: it prints XLA's cost analysis of the first method's update, per
environment step, for its two halves (one move of every game; one PPO minibatch step, of which
an update runs `num_epochs * num_minibatches`), and each half's largest matrix products. With
the machine's measured matrix-product rate it gives the update's compute floor.

    .venv/bin/python -m benchmarks.bad_hanabi_throughput --methods=bad --cost

`--profile` says which XLA ops take the time, from the JAX profiler's trace
(`benchmarks.xla_profile`): the top ops of the first method's rollout, of its learner and of
one belief update of every game (`hanabi_agent.observe_batch`), with their share of the summed
op time, runs per call and result shapes.

    .venv/bin/python -m benchmarks.bad_hanabi_throughput --methods=bad --profile --players=3
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
from absl import flags

from bad.hanabi import agent as hanabi_agent
from bad.hanabi import learner as hanabi_learner
from bad.hanabi.agent import METHODS, AgentConfig
from benchmarks import harness, hlo, xla_profile
from benchmarks.machine_rates import matmul_rate, repeat
from games.hanabi import jax_game as hanabi_jax
from games.hanabi.config import preset_with_players

_DEFAULTS = hanabi_learner.TrainConfig
_PRESET = flags.DEFINE_string("preset", "full", "Hanabi preset.")
_PLAYERS = flags.DEFINE_integer("players", 0, "Number of players (2-5); 0 keeps the preset's.")
_METHODS = flags.DEFINE_list("methods", list(reversed(METHODS)), "Methods to measure.")
_NUM_ENVS = flags.DEFINE_integer("num_envs", _DEFAULTS.num_envs, "Games played side by side.",
                                 lower_bound=1)
_ROLLOUT = flags.DEFINE_integer("rollout_length", _DEFAULTS.rollout_length,
                                "Moves per game per update.", lower_bound=1)
_EPOCHS = flags.DEFINE_integer("num_epochs", _DEFAULTS.num_epochs, "PPO epochs per rollout.",
                               lower_bound=1)
_MINIBATCHES = flags.DEFINE_integer("num_minibatches", _DEFAULTS.num_minibatches,
                                    "PPO minibatches per epoch.", lower_bound=1)
_UPDATES = flags.DEFINE_integer("updates", 5, "Updates per call (a round repeats calls).",
                                lower_bound=1)
_HIDDEN = flags.DEFINE_list("hidden_sizes", ["256"], "Hidden layer sizes.")
_SAMPLES = flags.DEFINE_integer("likelihood_samples", 1,
                                "BAD: public hands its likelihoods are averaged over.",
                                lower_bound=1)
_EXACT = flags.DEFINE_bool("exact_belief", False, "BAD: the exact joint belief instead of BB "
                           "(2 players with 2-card hands).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the training state.")
_PARTS = flags.DEFINE_bool("parts", False, "Time the parts of an update of the first method "
                           "instead of whole updates (see the module docstring).")
_COST = flags.DEFINE_bool("cost", False, "Print XLA's cost analysis of an update of the first "
                          "method instead of timing it (see the module docstring).")
_PROFILE = flags.DEFINE_bool("profile", False, "Print the top XLA ops of the first method's "
                              "rollout, learner and belief update instead of timing updates.")
_ROUNDS, _MIN_SECONDS = harness.define_round_flags(default_seconds=5.0)


def train_config(method: str) -> hanabi_learner.TrainConfig:
    """The learner's settings for `method` from the flags (raises `ValueError` on bad ones)."""
    agent = AgentConfig(preset_with_players(_PRESET.value, _PLAYERS.value), method=method,
                        hidden_sizes=tuple(harness.positive_ints("hidden_sizes", _HIDDEN.value)),
                        likelihood_samples=_SAMPLES.value if method == "bad" else 1,
                        exact_belief=_EXACT.value and method == "bad")
    return hanabi_learner.TrainConfig(agent=agent, num_envs=_NUM_ENVS.value,
                                      rollout_length=_ROLLOUT.value, num_epochs=_EPOCHS.value,
                                      num_minibatches=_MINIBATCHES.value)


def contender(method: str, config: hanabi_learner.TrainConfig) -> harness.Timed:
    """Training `method`: each call runs `--updates` updates, carrying the state on. The note
    gives the compiled updates' peak XLA buffers per game (`hlo.xla_buffer_bytes`)."""
    state = hanabi_learner.init_train_state(config, jax.random.PRNGKey(_SEED.value))
    steps = float(_UPDATES.value * config.steps_per_update)
    compiled = hanabi_learner.train_updates.lower(config, state, _UPDATES.value).compile()

    def call() -> float:
        nonlocal state
        state, _ = compiled(state)
        jax.block_until_ready(state)
        return steps

    peak = hlo.xla_buffer_bytes(compiled)
    note = "" if peak is None else f"peak {peak / config.num_envs / 1024:,.0f} KiB/game"
    return harness.Timed(method, call, note)


def _halves(config: hanabi_learner.TrainConfig):
    """(rollout, learn, the initial state, the state after one rollout, its transitions)."""
    state = hanabi_learner.init_train_state(config, jax.random.PRNGKey(_SEED.value))
    rollout = hanabi_agent.jit(functools.partial(hanabi_learner.rollout, config))
    learn = hanabi_agent.jit(functools.partial(hanabi_learner.learn, config))
    after, transitions = rollout(state)
    return rollout, learn, state, after, transitions


def update_halves(config: hanabi_learner.TrainConfig) -> list[harness.Timed]:
    """The rollout and the learner of one update, each on the same state every call."""
    rollout, learn, state, after, transitions = _halves(config)
    steps = float(config.steps_per_update)
    return [repeat("rollout", lambda: rollout(state), steps),
            repeat("learn", lambda: learn(after, transitions), steps)]


def move_pieces(config: hanabi_learner.TrainConfig) -> list[harness.Timed]:
    """The pieces of one move of every game, on games one rollout into training."""
    agent, game = config.agent, config.agent.game
    state = hanabi_learner.init_train_state(config, jax.random.PRNGKey(_SEED.value))
    state, _ = hanabi_agent.jit(functools.partial(hanabi_learner.rollout, config))(state)
    params, games, evidence = state.params, state.games, state.log_likelihood
    keys = jax.random.split(jax.random.PRNGKey(_SEED.value + 1), config.num_envs)
    observation_of = jax.jit(jax.vmap(functools.partial(hanabi_agent.observation_from_state,
                                                        game)))
    context_of = jax.jit(jax.vmap(functools.partial(hanabi_agent.public_context, agent)))
    decide = jax.jit(jax.vmap(functools.partial(hanabi_agent.decide, agent),
                              in_axes=(None, 0, 0)))
    observe = hanabi_agent.jit(functools.partial(hanabi_agent.observe_batch, agent))
    critic = jax.jit(functools.partial(hanabi_learner.bootstrap_value, agent))
    step = jax.jit(functools.partial(hanabi_jax.step_batch, game))
    observation = observation_of(games)
    context = context_of(observation, evidence, keys)
    action = decide(params, context, observation).action
    moves = float(config.num_envs)
    return [repeat("observation", lambda: observation_of(games), moves),
            repeat("public context", lambda: context_of(observation, evidence, keys), moves),
            repeat("decide", lambda: decide(params, context, observation), moves),
            repeat("observe", lambda: observe(params, context, observation, action), moves),
            repeat("critic (+ its view)", lambda: critic(params, games, evidence), moves),
            repeat("environment step", lambda: step(games, action, keys[0]), moves)]


def time_parts(method: str, config: hanabi_learner.TrainConfig) -> None:
    """`--parts`: the update's halves, then a move's pieces (see the module docstring)."""
    where = f"{method} on preset {_PRESET.value}, {config.num_envs} games"
    harness.compare(f"Parts of an update: {where}", "steps", update_halves(config),
                    _ROUNDS.value, _MIN_SECONDS.value)
    harness.compare(f"Pieces of one move of every game: {where}", "moves", move_pieces(config),
                    _ROUNDS.value, _MIN_SECONDS.value)


def print_profile(method: str, config: hanabi_learner.TrainConfig) -> None:
    """`--profile`: the top ops of the rollout, the learner and one belief update of every
    game, each compiled on its own (see the module docstring)."""
    agent, game = config.agent, config.agent.game
    rollout, learn, state, after, transitions = _halves(config)
    observation = jax.jit(jax.vmap(functools.partial(hanabi_agent.observation_from_state,
                                                     game)))(after.games)
    keys = jax.random.split(jax.random.PRNGKey(_SEED.value + 1), config.num_envs)
    context = jax.jit(jax.vmap(functools.partial(hanabi_agent.public_context, agent)))(
        observation, after.log_likelihood, keys)
    action = jax.jit(jax.vmap(functools.partial(hanabi_agent.decide, agent), (None, 0, 0)))(
        after.params, context, observation).action
    observe = hanabi_agent.jit(functools.partial(hanabi_agent.observe_batch, agent))
    where = f"{method} on preset {_PRESET.value}, {game.players} players, {config.num_envs} games"
    halves = [("rollout", rollout, (state,)), ("learn", learn, (after, transitions)),
              ("observe_batch", observe, (after.params, context, observation, action))]
    for name, function, args in halves:
        compiled = function.lower(*args).compile()  # one compilation for the calls and the HLO

        def call(c: Any = compiled, a: tuple[Any, ...] = args) -> object:  # bound now, not late
            return jax.block_until_ready(c(*a))

        ops = xla_profile.top_ops(call)
        shapes = xla_profile.hlo_shapes(compiled.as_text())
        print(xla_profile.format_ops(f"\n{name}: {where}", ops, shapes))


def _half_costs(config: hanabi_learner.TrainConfig) -> list[tuple[str, float, Any]]:
    """(name, runs per update, compiled) of one move of every game and of one minibatch step.

    Each is compiled with loops that run once, since XLA's cost analysis counts a loop body
    once: the rollout at `rollout_length=1` on the games of one chunk of the belief update
    (`hanabi_agent.chunk_size`; more games would update in a `lax.map`), and the learner on one
    minibatch's worth of games with one epoch of one minibatch (its advantage estimate and
    bootstrap value are an update's, on fewer games: a small overcount)."""
    chunk = hanabi_agent.chunk_size(config.agent, config.num_envs)
    one_move = dataclasses.replace(config, rollout_length=1, num_minibatches=1, num_envs=chunk)
    state = hanabi_learner.init_train_state(one_move, jax.random.PRNGKey(_SEED.value))
    rollout = hanabi_agent.jit(functools.partial(hanabi_learner.rollout, one_move)).lower(
        state).compile()
    one_step = dataclasses.replace(config, num_envs=config.num_envs // config.num_minibatches,
                                   num_epochs=1, num_minibatches=1)
    state = hanabi_learner.init_train_state(one_step, jax.random.PRNGKey(_SEED.value))
    after, transitions = jax.eval_shape(functools.partial(hanabi_learner.rollout, one_step),
                                        state)
    learn = hanabi_agent.jit(functools.partial(hanabi_learner.learn, one_step)).lower(
        after, transitions).compile()
    return [(f"one move of {chunk} games", config.rollout_length * config.num_envs / chunk,
             rollout),
            ("one PPO minibatch step", config.num_epochs * config.num_minibatches, learn)]


def print_costs(method: str, config: hanabi_learner.TrainConfig) -> None:
    """`--cost`: FLOPs and bytes per environment step of each half, its largest products, and
    the update's compute floor at the measured matrix-product rate."""
    if config.num_envs % config.num_minibatches:
        raise harness.FlagError("--cost needs --num_envs to be a multiple of --num_minibatches.")
    steps = config.steps_per_update
    print(f"XLA cost analysis: {method} on preset {_PRESET.value}, {config.num_envs} games, "
          f"{steps} steps per update")
    total = 0.0
    for name, runs, compiled in _half_costs(config):
        flops, bytes_accessed = hlo.xla_flops_and_bytes(compiled)
        total += flops * runs
        print(f"{name} (x{runs:g} per update): {flops * runs / steps / 1e6:.2f} MFLOP and "
              f"{bytes_accessed * runs / steps / 1e3:.1f} kB accessed per step")
        for product in hlo.matrix_products(compiled)[:8]:
            print(f"  {product.flops * runs / steps / 1e6:8.3f} MFLOP/step  {product.shapes}")
    rate = matmul_rate(_ROUNDS.value, _MIN_SECONDS.value)
    print(f"\nupdate: {total / steps / 1e6:.2f} MFLOP per step; at {rate / 1e9:.1f} GFLOP/s (the "
          f"matrix-product median) the floor is {rate * steps / total:,.0f} steps/s")


def main() -> None:
    harness.check_choices("methods", _METHODS.value, METHODS)
    configs = {method: train_config(method) for method in _METHODS.value}
    if _COST.value:
        print_costs(_METHODS.value[0], configs[_METHODS.value[0]])
        return
    if _PROFILE.value:
        print_profile(_METHODS.value[0], configs[_METHODS.value[0]])
        return
    if _PARTS.value:
        method = _METHODS.value[0]
        time_parts(method, configs[method])
        return
    first = configs[_METHODS.value[0]]
    title = (f"Hanabi learner, preset {_PRESET.value}, {first.agent.game.players} players, "
             f"{_NUM_ENVS.value} games, {_UPDATES.value} updates of {first.steps_per_update} "
             f"steps per call; jax {jax.__version__} on {jax.devices()[0].platform}")
    harness.compare(title, "steps", [contender(m, c) for m, c in configs.items()],
                    _ROUNDS.value, _MIN_SECONDS.value)


if __name__ == "__main__":
    harness.run(main)
