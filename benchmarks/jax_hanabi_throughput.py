"""Pure-JAX Hanabi against JaxMARL 0.2.0's Hanabi: steps per second and memory per game.

    .venv/bin/python -m benchmarks.jax_hanabi_throughput [--batch_sizes=256,1024,4096]
        [--steps=100] [--repeats=5] [--jaxmarl_python=.bench_jaxmarl/bin/python]

Protocol, the same for every row: 2-player Hanabi-Full, `batch_size` games `vmap`-ed and stepped
`steps` times inside one jitted `lax.scan`. Each step of each game: compute the legal-move mask,
draw a uniformly random legal action (`random_legal_actions`: one `randint` per game), step, and
replace a finished game by a newly dealt one (auto-reset; ours with `step_batch`, JaxMARL's with
its `step`, which takes a key per game). One step is one move
of one game; steps/s is `batch_size * steps` over the best of `repeats` timed calls after a
warm-up call that compiles, by the wall clock and by the process's CPU time (on a machine shared
with other jobs the CPU-time figure is the steadier one). JaxMARL's `step` takes an action per agent (it uses the current
player's; all get the same) and returns every agent's observation. The plain rows leave observations unused
(ours are not computed; JaxMARL's are pruned by XLA). The "+obs" rows compute every player's
observation each step and sum it so that XLA cannot prune it: the same work on both sides.

Memory per game: the game state's bytes, and the compiled scan's peak (arguments, outputs and
temporaries from XLA's memory analysis) divided by the batch size.

JaxMARL lives in its own virtualenv, apart from the project's: `python3 -m venv .bench_jaxmarl &&
.bench_jaxmarl/bin/pip install jaxmarl==0.2.0`. This script runs its measurement in that
interpreter as a subprocess (`--worker=jaxmarl`) and prints a note if it is missing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

_BATCH_SIZES = flags.DEFINE_list("batch_sizes", ["256", "1024", "4096"], "Games per batch.")
_STEPS = flags.DEFINE_integer("steps", 100, "Steps per game in each timed scan.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed calls per measurement (best is kept).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed for deals and moves.")
_JAXMARL_PYTHON = flags.DEFINE_string(
    "jaxmarl_python", os.path.join(".bench_jaxmarl", "bin", "python"),
    "Interpreter of the virtualenv holding jaxmarl==0.2.0.")
_WORKER = flags.DEFINE_enum("worker", None, ["jaxmarl"],
                            "Internal: measure JaxMARL in this interpreter and print JSON.")


def random_legal_actions(key: jax.Array, masks: jax.Array) -> jax.Array:
    """One uniformly random legal action per row of `masks` (bool [batch, actions])."""
    counts = masks.sum(axis=-1)
    pick = jax.random.randint(key, counts.shape, 0, counts)
    chosen = masks & (jnp.cumsum(masks, axis=-1) == pick[:, None] + 1)
    return jnp.argmax(chosen, axis=-1)


def _time_scan(run: Callable, init, batch_size: int, num_steps: int, repeats: int) -> dict:
    """Compiles `run(init)`, times it and reads its memory analysis."""
    compiled = jax.jit(run).lower(init).compile()
    jax.block_until_ready(compiled(init))
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(compiled(init))
        best_wall = min(best_wall, time.perf_counter() - start_wall)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    memory = compiled.memory_analysis()
    peak = None
    if memory is not None:
        peak = (memory.argument_size_in_bytes + memory.output_size_in_bytes
                + memory.temp_size_in_bytes)
    return {"steps_per_second": batch_size * num_steps / best_wall,
            "steps_per_cpu_second": batch_size * num_steps / best_cpu,
            "peak_bytes_per_game": None if peak is None else peak / batch_size}


def _scan_steps(one_step: Callable, num_steps: int) -> Callable:
    """`run((state, key))`: `num_steps` of `one_step(state, key) -> (state, scalar)`."""

    def run(carry):
        state, key = carry
        state, totals = jax.lax.scan(one_step, state, jax.random.split(key, num_steps))
        return state, totals.sum()

    return run


def measure_ours(batch_size: int, num_steps: int, seed: int = 0, repeats: int = 3,
                 with_observations: bool = False) -> dict:
    """`games.hanabi_jax`, 2-player Full, random legal moves, auto-reset (see module docstring)."""
    from games import hanabi_jax  # pylint: disable=import-outside-toplevel
    from games.hanabi_config import make_config  # pylint: disable=import-outside-toplevel

    config = make_config("full")
    players = jnp.arange(config.players)

    def one_step(state, key):
        act_key, reset_key = jax.random.split(key)
        masks = jax.vmap(lambda s: hanabi_jax.legal_actions_mask(config, s))(state)
        actions = random_legal_actions(act_key, masks)
        state, rewards, _, _ = hanabi_jax.step_batch(config, state, actions, reset_key)
        total = rewards[:, 0].sum()
        if with_observations:
            observations = jax.vmap(lambda s: jax.vmap(
                lambda p: hanabi_jax.observation(config, s, p))(players))(state)
            total = total + observations.sum()  # keeps them from being pruned
        return state, total

    key, reset_key = jax.random.split(jax.random.PRNGKey(seed))
    state = hanabi_jax.reset_batch(config, reset_key, batch_size)
    result = _time_scan(_scan_steps(one_step, num_steps), (state, key), batch_size, num_steps,
                        repeats)
    result["state_bytes_per_game"] = sum(x.nbytes for x in jax.tree.leaves(state)) / batch_size
    return result


def measure_jaxmarl(batch_size: int, num_steps: int, seed: int = 0, repeats: int = 3,
                    with_observations: bool = False) -> dict:
    """JaxMARL 0.2.0's Hanabi, same protocol; needs `jaxmarl` importable.

    Every agent gets the action drawn for the current player (JaxMARL reads only the current
    player's). Without `with_observations` the observations `env.step` returns are unused and XLA
    prunes their computation.
    """
    from jaxmarl import make  # pylint: disable=import-outside-toplevel

    env = make("hanabi")

    def one_step(state, key):
        act_key, step_key = jax.random.split(key)
        masks = {agent: m > 0 for agent, m in jax.vmap(env.get_legal_moves)(state).items()}
        current = jnp.argmax(state.cur_player_idx, axis=-1)
        mask = jnp.where(current[:, None] == 0, masks[env.agents[0]], masks[env.agents[1]])
        actions = random_legal_actions(act_key, mask)
        observations, state, rewards, _, _ = jax.vmap(env.step)(
            jax.random.split(step_key, batch_size), state,
            {agent: actions for agent in env.agents})
        total = rewards["__all__"].sum()
        if with_observations:
            total = total + sum(o.sum() for o in observations.values())
        return state, total

    key, reset_key = jax.random.split(jax.random.PRNGKey(seed))
    _, state = jax.vmap(env.reset)(jax.random.split(reset_key, batch_size))
    result = _time_scan(_scan_steps(one_step, num_steps), (state, key), batch_size, num_steps,
                        repeats)
    result["state_bytes_per_game"] = sum(x.nbytes for x in jax.tree.leaves(state)) / batch_size
    return result


def _jaxmarl_in_subprocess(python: str, batch_size: int) -> dict | None:
    """Runs `measure_jaxmarl` in JaxMARL's interpreter; None (with a note) if that fails."""
    if not os.path.exists(python):
        print(f"note: no JaxMARL interpreter at {python}; JaxMARL rows skipped "
              "(python3 -m venv .bench_jaxmarl && .bench_jaxmarl/bin/pip install jaxmarl==0.2.0).")
        return None
    command = [python, "-m", "benchmarks.jax_hanabi_throughput", "--worker=jaxmarl",
               f"--batch_sizes={batch_size}", f"--steps={_STEPS.value}",
               f"--repeats={_REPEATS.value}", f"--seed={_SEED.value}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if done.returncode != 0:
        print(f"note: JaxMARL measurement failed:\n{done.stderr[-2000:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def _row(name: str, batch_size: int, result: dict, reference: dict | None) -> str:
    ratios = ""
    if reference is not None:
        ratios = "".join(f"{result[k] / reference[k]:>9.2f}x"
                         for k in ("steps_per_second", "steps_per_cpu_second"))
    peak = result["peak_bytes_per_game"]
    peak_text = "n/a" if peak is None else f"{peak / 1024:.1f}"
    return (f"{name:<18}{batch_size:>6}{result['steps_per_second']:>12,.0f}"
            f"{result['steps_per_cpu_second']:>12,.0f}{result['state_bytes_per_game']:>9,.0f}"
            f"{peak_text:>9}{ratios}")


def main(argv):
    del argv
    batch_sizes = [int(b) for b in _BATCH_SIZES.value]
    if _WORKER.value == "jaxmarl":
        print(json.dumps({observe: measure_jaxmarl(batch_sizes[0], _STEPS.value, _SEED.value,
                                                   _REPEATS.value, observe)
                          for observe in (False, True)}))
        return
    print(f"2-player Hanabi-Full, random legal moves, {_STEPS.value} steps per game per scan, "
          f"best of {_REPEATS.value}; {os.cpu_count()} CPU cores, jax {jax.__version__} "
          f"{jax.devices()[0].platform}")
    print("steps/s: wall clock; steps/cpu-s: per second of this process's CPU time (steadier on a "
          "shared machine); state: bytes per game; peak: KiB per game; ratios: over JaxMARL, "
          "wall and CPU")
    print(f"{'implementation':<18}{'batch':>6}{'steps/s':>12}{'steps/cpu-s':>12}{'state':>9}"
          f"{'peak':>9}{'wall':>10}{'cpu':>10}")
    for batch_size in batch_sizes:
        jaxmarl = _jaxmarl_in_subprocess(_JAXMARL_PYTHON.value, batch_size)
        for observe in (False, True):
            suffix = " +obs" if observe else ""
            reference = None if jaxmarl is None else jaxmarl[str(observe).lower()]
            if reference is not None:
                print(_row("JaxMARL 0.2.0" + suffix, batch_size, reference, None))
            result = measure_ours(batch_size, _STEPS.value, _SEED.value, _REPEATS.value, observe)
            print(_row("hanabi_jax" + suffix, batch_size, result, reference))
        sys.stdout.flush()


if __name__ == "__main__":
    app.run(main)
