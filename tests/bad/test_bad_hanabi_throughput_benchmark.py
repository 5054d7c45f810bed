"""benchmarks.bad_hanabi_throughput: a tiny measurement, and one-line errors on bad flags."""

import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY = ["--preset=very_small", "--num_envs=4", "--rollout_length=2", "--hidden_sizes=8",
        "--updates=1", "--repeats=1", "--likelihood_samples=2"]


def run(*args):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "benchmarks.bad_hanabi_throughput", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_measures_both_methods_with_the_learner_flags():
    result = run(*TINY, "--num_epochs=3", "--num_minibatches=8")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()
            if line.split()[:1] in (["ippo"], ["bad"])]
    assert [row[0] for row in rows] == ["ippo", "bad"]
    assert all(float(row[-2]) > 0 for row in rows)


@pytest.mark.parametrize("flag, word", [("--num_minibatches=3", "num_minibatches (3)"),
                                        ("--num_epochs=0", "num_epochs")])
def test_bad_learner_flags_give_one_line(flag, word):
    result = run(*TINY, flag)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and word in lines[0], result.stderr
