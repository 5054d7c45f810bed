"""experiments.bad_matrix_game: flag checks raise what run_main prints; a tiny run writes files.

The table of bad command lines is in tests/experiments/test_bad_command_lines.py.
"""

import json
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def run_binary(*flags):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, "-m", "experiments.bad_matrix_game", *flags],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


BAD_TRAINING_FLAGS = [
    (["--batch_size=-1"], "--batch_size must be positive"),
    (["--num_updates=0"], "--num_updates must be positive"),
    (["--learning_rate=0"], "--learning_rate must be positive"),
    (["--num_updates=100", "--eval_every=30"], "must divide"),
    (["--entropy_cost=-1"], "--entropy_cost must be non-negative"),
]

# In a fresh interpreter: the binary's absl flags must not meet another binary's in this one.
_CHECK_FLAGS = """
import json, sys
from absl import flags
from experiments import bad_matrix_game
for argv in json.loads(sys.argv[1]):
    flags.FLAGS(["bad_matrix_game", *argv])
    try:
        bad_matrix_game.configs_from_flags()
        print("accepted")
    except ValueError as error:
        print(error)
    flags.FLAGS.unparse_flags()
"""


def test_bad_training_flags_raise_the_error_run_main_prints():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    argvs = json.dumps([argv for argv, _ in BAD_TRAINING_FLAGS])
    result = subprocess.run([sys.executable, "-c", _CHECK_FLAGS, argvs], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(BAD_TRAINING_FLAGS)
    for line, (_, message) in zip(lines, BAD_TRAINING_FLAGS):
        assert message in line, line


def test_tiny_run_writes_results(tmp_path):
    result = run_binary("--methods=pg", "--num_seeds=3", "--num_updates=20", "--eval_every=10",
                        f"--output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert "wall time" in result.stdout
    results = json.loads((tmp_path / "results.json").read_text())["results"]["pg"]
    assert set(results) >= {"mean_final_reward", "sem_final_reward", "fraction_at_optimum",
                            "fraction_within_1_of_optimum", "wall_time_s"}
    assert len((tmp_path / "metrics.csv").read_text().splitlines()) == 1 + 3
    assert (tmp_path / "learning_curves.png").stat().st_size > 0
    assert (tmp_path / "final_rewards.png").stat().st_size > 0
