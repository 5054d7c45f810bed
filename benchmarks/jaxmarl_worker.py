"""The JaxMARL side of `jax_hanabi_throughput`, run in JaxMARL's own virtualenv.

    .bench_jaxmarl/bin/python -m benchmarks.jaxmarl_worker '<JSON spec>'

Started by the benchmark, never by hand: the spec (batch_size, steps, seed, with_observations)
comes from its flags, and the rounds are asked for on stdin (`harness.serve`). Serves two
contenders on 2-player Hanabi with JaxMARL's defaults, each agent given the action drawn for the
current player (JaxMARL reads only the current player's):

* `JaxMARL env.step`: `vmap` of `env.step`, which deals a new game for every game at every step;
* `JaxMARL step_env, reset ended`: `vmap` of `env.step_env`, then `env.reset` of only the games
  that ended (`jax_scan.replace_ended`, the rule ours follows), their observations included.
"""

from __future__ import annotations

import importlib.metadata
import sys

import jax
import jax.numpy as jnp

from benchmarks import harness, jax_scan


def contenders(batch_size: int, steps: int, seed: int,
               with_observations: bool) -> list[harness.Timed]:
    """Both JaxMARL contenders for one batch size (see the module docstring)."""
    from jaxmarl import make

    env = make("hanabi")
    agents = list(env.agents)
    max_resets = max(1, batch_size // 8)

    def act(key, state):
        masks = jax.vmap(env.get_legal_moves)(state)
        masks = jnp.stack([masks[agent] > 0 for agent in agents], axis=1)
        current = jnp.argmax(state.cur_player_idx, axis=-1)
        mask = jnp.take_along_axis(masks, current[:, None, None], axis=1)[:, 0]
        actions = jax_scan.random_legal_actions(key, mask)
        return {agent: actions for agent in agents}

    def total(rewards, observations):
        result = rewards["__all__"].sum()
        if with_observations:
            result = result + sum(o.sum() for o in observations.values())
        return result

    def users_step(state, key):
        act_key, step_key = jax.random.split(key)
        observations, state, rewards, _, _ = jax.vmap(env.step)(
            jax.random.split(step_key, batch_size), state, act(act_key, state))
        return state, total(rewards, observations)

    def like_for_like_step(state, key):
        act_key, step_key, reset_key = jax.random.split(key, 3)
        observations, state, rewards, dones, _ = jax.vmap(env.step_env)(
            jax.random.split(step_key, batch_size), state, act(act_key, state))
        deal = jax.vmap(lambda i: env.reset(jax.random.fold_in(reset_key, i)))
        observations, state = jax_scan.replace_ended(dones["__all__"], (observations, state),
                                                     deal, max_resets)
        return state, total(rewards, observations)

    key, reset_key = jax.random.split(jax.random.PRNGKey(seed))
    _, state = jax.vmap(env.reset)(jax.random.split(reset_key, batch_size))
    versions = f"jaxmarl {importlib.metadata.version('jaxmarl')}, jax {jax.__version__}"
    timed = [jax_scan.scan_contender(name, one_step, state, key, batch_size, steps)
             for name, one_step in (("JaxMARL env.step", users_step),
                                    ("JaxMARL step_env, reset ended", like_for_like_step))]
    for contender in timed:
        contender.note = f"{contender.note}; {versions}"
    return timed


def main(argv: list[str]) -> None:
    spec = harness.worker_spec(argv)
    harness.serve(contenders(spec["batch_size"], spec["steps"], spec["seed"],
                             spec["with_observations"]))


if __name__ == "__main__":
    main(sys.argv)
