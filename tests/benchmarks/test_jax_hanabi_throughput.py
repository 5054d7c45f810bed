"""benchmarks.jax_hanabi_throughput: tiny tables, the JaxMARL worker's rows, bad flags.

The JaxMARL worker is exercised against a stand-in `jaxmarl` package (written below, built on
`games.hanabi.jax_game`) with JaxMARL's interface: `make`, `agents`, `get_legal_moves`, `step`,
`step_env`, `reset` and a one-hot `cur_player_idx`."""

import sys
import textwrap

import pytest

MODULE = "benchmarks.jax_hanabi_throughput"
TINY = ["--batch_sizes=4", "--steps=2", "--rounds=2", "--min_round_seconds=0"]
JAXMARL_ROWS = ["JaxMARL env.step", "JaxMARL step_env, reset ended"]

STAND_IN = textwrap.dedent('''
    from typing import Any, NamedTuple

    import jax
    import jax.numpy as jnp

    from games.hanabi import jax_game as hanabi_jax
    from games.hanabi.config import make_config


    class State(NamedTuple):
        game: Any
        cur_player_idx: jax.Array


    class Env:
        def __init__(self):
            self.config = make_config("full")
            self.agents = [f"agent_{i}" for i in range(self.config.players)]

        def _wrap(self, game):
            return State(game, jax.nn.one_hot(game.current_player, len(self.agents)))

        def _observations(self, game):
            return {agent: hanabi_jax.observation(self.config, game, i)
                    for i, agent in enumerate(self.agents)}

        def get_legal_moves(self, state):
            mask = hanabi_jax.legal_actions_mask(self.config, state.game).astype(jnp.float32)
            return {agent: mask * state.cur_player_idx[i] for i, agent in enumerate(self.agents)}

        def reset(self, key):
            game = hanabi_jax.reset(self.config, key)
            return self._observations(game), self._wrap(game)

        def step_env(self, key, state, actions):
            game, rewards, done, _ = hanabi_jax.step(self.config, state.game,
                                                     actions[self.agents[0]])
            return (self._observations(game), self._wrap(game), {"__all__": rewards[0]},
                    {"__all__": done}, {})

        def step(self, key, state, actions):
            observations, stepped, rewards, dones, info = self.step_env(key, state, actions)
            fresh_observations, fresh = self.reset(key)
            pick = lambda new, old: jax.lax.select(dones["__all__"], new, old)
            return (jax.tree.map(pick, fresh_observations, observations),
                    jax.tree.map(pick, fresh, stepped), rewards, dones, info)


    def make(name):
        assert name == "hanabi"
        return Env()
''')


@pytest.fixture
def stand_in_jaxmarl(tmp_path):
    """A PYTHONPATH entry holding the stand-in `jaxmarl` package and its metadata."""
    (tmp_path / "jaxmarl").mkdir()
    (tmp_path / "jaxmarl" / "__init__.py").write_text(STAND_IN)
    (tmp_path / "jaxmarl-0.0.1.dist-info").mkdir()
    (tmp_path / "jaxmarl-0.0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: jaxmarl\nVersion: 0.0.1\n")
    return str(tmp_path)


def test_without_jaxmarl_ours_is_measured_alone(run_benchmark, read_reports):
    result = run_benchmark(MODULE, *TINY, "--jaxmarl_python=/no/python")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stdout.splitlines() if line.startswith("note: ")]
    assert len(notes) == 2 and all("JaxMARL unavailable" in note for note in notes)
    reports = read_reports(result.stdout)
    assert [r["title"].split(",")[1].strip() for r in reports] == ["4 games", "4 games"]
    assert all(list(r["rows"]) == ["hanabi_jax"] for r in reports)
    assert "KiB/game" in reports[0]["rows"]["hanabi_jax"][-1]


@pytest.mark.slow  # compiles the stand-in JaxMARL twice
def test_the_jaxmarl_worker_adds_both_of_its_rows(run_benchmark, read_reports,
                                                 stand_in_jaxmarl):
    result = run_benchmark(MODULE, *TINY, f"--jaxmarl_python={sys.executable}",
                           env={"PYTHONPATH": stand_in_jaxmarl})
    assert result.returncode == 0, result.stderr + result.stdout
    assert "note: " not in result.stdout
    plain, observed = read_reports(result.stdout)
    assert "every observation computed" in observed["title"]
    for report in (plain, observed):
        assert list(report["rows"]) == ["hanabi_jax", *JAXMARL_ROWS]
        assert all("jaxmarl 0.0.1" in report["rows"][row][-1] for row in JAXMARL_ROWS)


@pytest.mark.slow  # compiles ours again (about 20 s); measuring ours alone is tested above
def test_a_broken_jaxmarl_is_a_note(run_benchmark, read_reports):
    result = run_benchmark(MODULE, *TINY, f"--jaxmarl_python={sys.executable}")
    assert result.returncode == 0, result.stderr
    assert "note: JaxMARL unavailable: the worker stopped (exit status 1): " in result.stdout
    assert "No module named 'jaxmarl'" in result.stdout


@pytest.mark.parametrize("flag, word", [("--batch_sizes=4,0", "--batch_sizes"),
                                        ("--steps=0", "--steps"),
                                        ("--rounds=-1", "--rounds")])
def test_bad_flags_give_one_line(run_benchmark, assert_one_line_error, flag, word):
    assert_one_line_error(run_benchmark(MODULE, *TINY, flag), word)


def test_helpfull_lists_the_flags(assert_helpfull_lists):
    assert_helpfull_lists(MODULE, "--jaxmarl_python", "--batch_sizes")
