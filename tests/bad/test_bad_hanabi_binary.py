"""experiments.bad_hanabi end to end: a tiny run, exact resume, and one-line errors on bad input."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TINY = ["--method=bad", "--preset=very_small", "--num_envs=8", "--rollout_length=4",
        "--num_minibatches=2", "--hidden_sizes=16", "--updates_per_log=2", "--seed=3",
        "--final_learning_rate_fraction=0.5", "--final_entropy_fraction=0.2",
        "--likelihood_samples=2"]
CHUNK = 8 * 4 * 2  # environment steps per logged chunk


def run(*args):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-m", "experiments.bad_hanabi", *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)


def assert_one_line_error(result, *words):
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """An uninterrupted run of two chunks, evaluated through OpenSpiel with a 3-sample belief."""
    out = tmp_path_factory.mktemp("full")
    result = run(*TINY, f"--num_env_steps={2 * CHUNK}", "--checkpoint_every=1",
                 "--eval_games=4", "--eval_likelihood_samples=3", f"--output_dir={out}")
    assert result.returncode == 0, result.stderr
    return out


def test_tiny_run_writes_every_output(full_run):
    for name in ["metrics.csv", "results.json", "score.png", "belief_cross_entropy.png",
                 "checkpoint.npz"]:
        assert (full_run / name).exists(), name
    results = (full_run / "results.json").read_text()
    for key in ["open_spiel_evaluation", "cross_entropy_v0", "cross_entropy_bb", "score_stderr",
                "perfect_fraction"]:
        assert key in results
    assert json.loads(results)["open_spiel_evaluation"]["likelihood_samples"] == 3


def test_resume_after_a_kill_equals_the_uninterrupted_run(full_run, tmp_path):
    # The killed run was started for 2 chunks: its annealing spans them.
    first = run(*TINY, f"--num_env_steps={CHUNK}", f"--anneal_env_steps={2 * CHUNK}",
                "--checkpoint_every=1", "--eval_games=0", f"--output_dir={tmp_path}")
    assert first.returncode == 0, first.stderr
    # A killed run may have logged a row after its last checkpoint: it must be dropped.
    with open(tmp_path / "metrics.csv", "a") as handle:
        handle.write(f"{2 * CHUNK},4,99,1,1,1,1,1\n")
    second = run(*TINY, f"--num_env_steps={2 * CHUNK}", "--checkpoint_every=1", "--eval_games=0",
                 f"--output_dir={tmp_path}")
    assert second.returncode == 0, second.stderr
    assert "resuming" in second.stdout
    assert (tmp_path / "metrics.csv").read_text() == (full_run / "metrics.csv").read_text()
    with np.load(tmp_path / "checkpoint.npz") as a, np.load(full_run / "checkpoint.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_evaluate_checkpoint_through_open_spiel(full_run):
    result = run("--preset=very_small", f"--evaluate_checkpoint={full_run / 'checkpoint.npz'}",
                 "--num_games=4", "--greedy")
    assert result.returncode == 0, result.stderr
    assert "greedy" in result.stdout
    assert "cross_entropy_v1" in result.stdout and "mean_score" in result.stdout
    assert "fraction playable" in result.stdout  # the calibration table


def test_evaluate_checkpoint_with_more_likelihood_samples(full_run, tmp_path):
    result = run("--preset=very_small", f"--evaluate_checkpoint={full_run / 'checkpoint.npz'}",
                 "--num_games=4", "--eval_likelihood_samples=5", f"--output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert evaluation["likelihood_samples"] == 5
    assert evaluation["playable_calibration"][0]["cards"] > 0
    for flag in ["--eval_likelihood_samples=-1", "--likelihood_samples=5"]:
        assert_one_line_error(run("--preset=very_small", flag,
                                  f"--evaluate_checkpoint={full_run / 'checkpoint.npz'}"),
                              flag.split("=")[0])


def test_evaluate_a_bb_checkpoint_with_the_exact_belief(full_run, tmp_path):
    result = run("--preset=very_small", f"--evaluate_checkpoint={full_run / 'checkpoint.npz'}",
                 "--num_games=4", "--eval_exact_belief", f"--output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert "cross_entropy_exact" in evaluation and "cross_entropy_bb" not in evaluation


def test_tiny_exact_belief_run_trains_and_evaluates(tmp_path):
    flags = [f for f in TINY if not f.startswith("--likelihood_samples")]
    result = run(*flags, "--exact_belief", f"--num_env_steps={CHUNK}", "--eval_games=4",
                 f"--output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    evaluation = json.loads((tmp_path / "results.json").read_text())["open_spiel_evaluation"]
    assert np.isfinite(evaluation["cross_entropy_exact"])
    # Its checkpoint records the belief: resuming it as a BB run is refused.
    assert_one_line_error(run(*flags, f"--num_env_steps={2 * CHUNK}",
                              f"--output_dir={tmp_path}"), "checkpoint")


@pytest.mark.parametrize("flags, word", [
    (["--exact_belief", "--preset=small", "--players=3"], "2 players"),
    (["--exact_belief", "--likelihood_samples=2"], "likelihood_samples"),
    (["--eval_exact_belief", "--eval_likelihood_samples=2"], "--eval_exact_belief")])
def test_exact_belief_settings_it_does_not_support(flags, word, tmp_path):
    out = tmp_path / "out"
    tiny = [f for f in TINY if not f.startswith("--likelihood_samples")]
    assert_one_line_error(run(*tiny, *flags, f"--output_dir={out}"), word)
    assert not out.exists() or not any(out.iterdir())


def test_checkpoint_of_another_preset_is_refused_and_left_alone(full_run):
    before = {name: (full_run / name).read_bytes() for name in ["checkpoint.npz", "metrics.csv"]}
    training = run(*[f for f in TINY if not f.startswith("--preset")], "--preset=small",
                   f"--num_env_steps={3 * CHUNK}", f"--output_dir={full_run}")
    assert_one_line_error(training, "checkpoint")
    evaluation = run("--preset=very_small", "--players=3",
                     f"--evaluate_checkpoint={full_run / 'checkpoint.npz'}")
    assert_one_line_error(evaluation, "trained on")
    assert before == {name: (full_run / name).read_bytes() for name in before}


def test_missing_truncated_and_foreign_checkpoints(tmp_path):
    assert_one_line_error(run(f"--evaluate_checkpoint={tmp_path / 'none.npz'}"), "does not exist")
    truncated = tmp_path / "truncated.npz"
    np.savez(truncated, config=np.asarray("{}"), num_leaves=np.asarray(0))
    truncated.write_bytes(truncated.read_bytes()[:40])
    assert_one_line_error(run(f"--evaluate_checkpoint={truncated}"), "not a readable")
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros(3))
    assert_one_line_error(run(f"--evaluate_checkpoint={foreign}"), "not a readable")


@pytest.mark.parametrize("flag", ["--num_envs=0", "--players=9", "--preset=huge",
                                  "--learning_rate=-1", "--hidden_sizes=a",
                                  "--final_entropy_fraction=1.5", "--v2_alpha=2",
                                  "--likelihood_samples=0", "--eval_likelihood_samples=-1",
                                  "--num_minibatches=3"])
def test_out_of_range_flags_fail_before_writing(flag, tmp_path):
    out = tmp_path / "out"
    assert_one_line_error(run(*TINY, flag, f"--output_dir={out}"))
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("flag", ["--v2_alpha=0.1", "--likelihood_samples=4",
                                  "--eval_likelihood_samples=4", "--exact_belief",
                                  "--eval_exact_belief"])
def test_belief_flags_are_for_bad_only(flag, tmp_path):
    out = tmp_path / "out"
    ippo = [f for f in TINY if not f.startswith("--likelihood_samples")] + ["--method=ippo"]
    assert_one_line_error(run(*ippo, flag, f"--output_dir={out}"), flag.split("=")[0])
    assert not out.exists() or not any(out.iterdir())
