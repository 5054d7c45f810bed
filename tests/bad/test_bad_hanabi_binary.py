"""experiments.bad_hanabi end to end: a tiny run, exact resume, and one-line errors on bad input.

The table of bad command lines (flags, damaged checkpoints) is in
tests/experiments/test_bad_command_lines.py.
"""

import hashlib
import json
import os
import pathlib
import stat
import subprocess
import sys

import jax
import numpy as np
import pytest

from bad.hanabi import agents
from bad.hanabi import learner as hanabi_learner
from experiments import checkpoints, run_files
from games.hanabi.config import make_config

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
    umask = os.umask(0)
    os.umask(umask)
    for name in ["metrics.csv", "results.json", "score.png", "belief_cross_entropy.png",
                 "checkpoint.npz", "agent.npz"]:
        assert (full_run / name).exists(), name
        assert stat.S_IMODE((full_run / name).stat().st_mode) == 0o666 & ~umask, name
    results = (full_run / "results.json").read_text()
    for key in ["open_spiel_evaluation", "cross_entropy_v0", "cross_entropy_bb", "score_stderr",
                "perfect_fraction"]:
        assert key in results
    assert json.loads(results)["open_spiel_evaluation"]["likelihood_samples"] == 3


def test_the_trained_agent_is_written_with_its_steps_and_score(full_run):
    agent = agents.load_agent(full_run / "agent.npz")
    results = json.loads((full_run / "results.json").read_text())
    assert agent.header["training_steps"] == results["env_steps"]
    assert agent.header["score"] == results["open_spiel_evaluation"]["mean_score"]
    assert agent.config.game == make_config("very_small") and agent.config.method == "bad"


def test_results_and_checkpoint_record_the_config_dataclasses(full_run):
    config = json.loads((full_run / "results.json").read_text())["config"]
    with np.load(full_run / "checkpoint.npz") as checkpoint:
        assert json.loads(str(checkpoint["config"])) == config
    assert config["format_version"] == checkpoints.FORMAT_VERSION and config["seed"] == 3
    assert config["train"]["num_envs"] == 8
    assert config["train"]["agent"]["likelihood_samples"] == 2
    assert config["train"]["agent"]["game"]["hand_size"] == 2


def test_resume_without_its_metrics_is_refused(full_run, tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes((full_run / "checkpoint.npz").read_bytes())
    result = run(*TINY, f"--num_env_steps={2 * CHUNK}", "--checkpoint_every=1",
                 f"--output_dir={tmp_path}")
    assert_one_line_error(result, "metrics.csv is missing")
    (tmp_path / "metrics.csv").write_text((full_run / "metrics.csv").read_text().split("\n")[0])
    result = run(*TINY, f"--num_env_steps={2 * CHUNK}", "--checkpoint_every=1",
                 f"--output_dir={tmp_path}")
    assert_one_line_error(result, "metrics.csv does not hold one row per 64-step chunk")
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "metrics.csv"]


def test_a_diverging_run_stops_in_one_line_and_keeps_readable_metrics(tmp_path):
    result = run(*TINY, "--learning_rate=1e38", f"--num_env_steps={2 * CHUNK}",
                 "--checkpoint_every=1", "--eval_games=0", f"--output_dir={tmp_path}")
    assert_one_line_error(result, "training diverged", "--learning_rate")
    rows = run_files.read_csv(str(tmp_path / "metrics.csv"))
    assert not all(np.isfinite(rows[-1][name]) for name in ("policy_loss", "value_loss",
                                                            "entropy"))
    assert "results.json" not in os.listdir(tmp_path)
    if len(rows) > 1:  # the checkpoint covers the finite rows only
        with np.load(tmp_path / "checkpoint.npz") as checkpoint:
            assert int(checkpoint["num_leaves"]) > 0


def test_resume_after_a_kill_equals_the_uninterrupted_run(full_run, tmp_path):
    # The killed run was started for 2 chunks: its annealing spans them.
    first = run(*TINY, f"--num_env_steps={CHUNK}", f"--anneal_env_steps={2 * CHUNK}",
                "--checkpoint_every=1", "--eval_games=0", f"--output_dir={tmp_path}")
    assert first.returncode == 0, first.stderr
    # A killed run may have logged a row after its last checkpoint: it must be dropped. A row
    # the checkpoint covers, damaged, must be repaired; a write the kill cut short, removed.
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    lines[1] = ",".join(lines[1].split(",")[:2] + ["99"] + lines[1].split(",")[3:])
    lines.append(f"{2 * CHUNK},4,99,1,1,1,1,1")
    (tmp_path / "metrics.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / ".tmp-k1ll3dcheckpoint.npz").write_bytes(b"PK\x03\x04half")
    second = run(*TINY, f"--num_env_steps={2 * CHUNK}", "--checkpoint_every=1", "--eval_games=0",
                 f"--output_dir={tmp_path}")
    assert second.returncode == 0, second.stderr
    assert "resumed from" in second.stdout
    assert (tmp_path / "metrics.csv").read_text() == (full_run / "metrics.csv").read_text()
    assert [name for name in os.listdir(tmp_path) if name.startswith(".")] == [], \
        "no temporary or lock file is left"
    with np.load(tmp_path / "checkpoint.npz") as a, np.load(full_run / "checkpoint.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_evaluate_checkpoint_through_open_spiel(full_run):
    # The game comes from the checkpoint: no --preset needed.
    result = run(f"--evaluate_checkpoint={full_run / 'checkpoint.npz'}", "--num_games=4",
                 "--greedy")
    assert result.returncode == 0, result.stderr
    assert "greedy" in result.stdout
    assert "cross_entropy_v1" in result.stdout and "mean_score" in result.stdout
    assert "fraction playable" in result.stdout  # the calibration table


def test_evaluate_an_agent_file_like_its_checkpoint(full_run, tmp_path):
    evaluations = {}
    for name in ["checkpoint.npz", "agent.npz"]:
        out = tmp_path / name
        result = run(f"--evaluate_checkpoint={full_run / name}", "--num_games=4",
                     f"--output_dir={out}")
        assert result.returncode == 0, result.stderr
        evaluations[name] = json.loads((out / "evaluation.json").read_text())
    checkpoint, agent = evaluations["checkpoint.npz"], evaluations["agent.npz"]
    assert agent["env_steps"] == checkpoint["env_steps"] == 2 * CHUNK
    assert agent["mean_score"] == checkpoint["mean_score"]
    assert_one_line_error(run("--preset=small", f"--evaluate_checkpoint={full_run / 'agent.npz'}"),
                          "agent.npz", "trained on")


@pytest.mark.slow  # a binary run each; the in-process tests cover these paths
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


@pytest.mark.slow  # a binary run each; the in-process tests cover these paths
def test_evaluate_a_bb_checkpoint_with_the_exact_belief(full_run, tmp_path):
    result = run("--preset=very_small", f"--evaluate_checkpoint={full_run / 'checkpoint.npz'}",
                 "--num_games=4", "--eval_exact_belief", f"--output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    evaluation = json.loads((tmp_path / "evaluation.json").read_text())
    assert "cross_entropy_exact" in evaluation and "cross_entropy_bb" not in evaluation


@pytest.mark.slow  # a binary run each; the in-process tests cover these paths
def test_tiny_exact_belief_run_trains_and_evaluates(tmp_path):
    flags = [f for f in TINY if not f.startswith("--likelihood_samples")]
    result = run(*flags, "--exact_belief", f"--num_env_steps={CHUNK - 1}", "--eval_games=4",
                 f"--output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert f"--num_env_steps={CHUNK - 1} is rounded up to {CHUNK}" in result.stdout
    evaluation = json.loads((tmp_path / "results.json").read_text())["open_spiel_evaluation"]
    assert np.isfinite(evaluation["cross_entropy_exact"])
    # Its checkpoint records the belief: resuming it as a BB run is refused.
    assert_one_line_error(run(*flags, f"--num_env_steps={2 * CHUNK}",
                              f"--output_dir={tmp_path}"), "checkpoint")


@pytest.mark.slow  # a binary run each; the in-process tests cover these paths
def test_checkpoint_with_a_misshapen_or_missing_array_is_refused(full_run, tmp_path):
    with np.load(full_run / "checkpoint.npz") as checkpoint:
        arrays = {name: checkpoint[name] for name in checkpoint.files}
    arrays["leaf_00001"] = arrays["leaf_00001"][:1]
    np.savez(tmp_path / "misshapen.npz", **arrays)
    del arrays["leaf_00001"]
    np.savez(tmp_path / "missing.npz", **arrays)
    for name, problem in [("misshapen", "array 1 has shape"),
                          ("missing", "lacks array leaf_00001")]:
        result = run("--preset=very_small", f"--evaluate_checkpoint={tmp_path / name}.npz")
        assert_one_line_error(result, f"{tmp_path / name}.npz", problem)


def test_checkpoint_of_another_preset_is_refused_and_left_alone(full_run):
    before = {name: (full_run / name).read_bytes() for name in ["checkpoint.npz", "metrics.csv"]}
    training = run(*[f for f in TINY if not f.startswith("--preset")], "--preset=small",
                   f"--num_env_steps={3 * CHUNK}", f"--output_dir={full_run}")
    assert_one_line_error(training, "checkpoint")
    evaluation = run("--preset=very_small", "--players=3",
                     f"--evaluate_checkpoint={full_run / 'checkpoint.npz'}")
    assert_one_line_error(evaluation, "trained on")
    assert before == {name: (full_run / name).read_bytes() for name in before}


OLD_RUN = REPO / "tests" / "experiments" / "data" / "bad_hanabi_old_run"


def array_digests(path) -> dict:
    with np.load(path) as checkpoint:
        return {name: hashlib.sha256(np.ascontiguousarray(checkpoint[name]).tobytes()
                                     + str(checkpoint[name].dtype).encode()
                                     + str(checkpoint[name].shape).encode()).hexdigest()
                for name in sorted(checkpoint.files)}


def test_a_checkpoint_of_the_code_before_the_shared_loop_still_loads():
    """The checkpoint format must not change: an old run's checkpoint restores into today's
    training state (names, shapes, dtypes and header)."""
    path = str(OLD_RUN / "checkpoint.npz")
    checkpoint = checkpoints.read_checkpoint(path)
    # (experiments.bad_hanabi is not imported here: its flags would meet another binary's.)
    config = checkpoints.dataclass_from_dict(hanabi_learner.TrainConfig,
                                             checkpoint.config["train"], path, "train.")
    seed = checkpoint.config["seed"]
    assert set(checkpoint.config) == {"format_version", "experiment", "train", "seed",
                                      "updates_per_log"}
    template = hanabi_learner.init_train_state(config, jax.random.PRNGKey(seed))
    state = checkpoints.restore(path, checkpoint, template)
    assert int(state.update) == 2 and seed == 3


@pytest.mark.slow  # one binary run; the test above checks the format in-process
def test_a_run_of_the_code_before_the_shared_loop_resumes_to_its_uninterrupted_end(tmp_path):
    for name in ("checkpoint.npz", "metrics.csv"):
        (tmp_path / name).write_bytes((OLD_RUN / name).read_bytes())
    result = run(*TINY, f"--num_env_steps={2 * CHUNK}", "--checkpoint_every=1", "--eval_games=0",
                 f"--output_dir={tmp_path}")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "metrics.csv").read_text() == \
        (OLD_RUN / "uninterrupted_metrics.csv").read_text()
    expected = json.loads((OLD_RUN / "uninterrupted_checkpoint.json").read_text())
    assert array_digests(tmp_path / "checkpoint.npz") == expected["uninterrupted_checkpoint_sha256"]
