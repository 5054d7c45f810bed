"""gn_common.train on a toy problem: a kill between metrics and checkpoint, and divergence."""

import os

import jax.numpy as jnp
import numpy as np
import pytest

from experiments import checkpoints, common, gn_common, run_files

TRAINING = gn_common.TrainingConfig(
    num_iterations=8, batch_size_train=1, batch_size_test=1, num_processing_steps=1,
    latent_size=1, num_layers=1, aggregation="sum", learning_rate=0.1,
    final_learning_rate_fraction=0.5, seed=0, log_every=2, num_eval_graphs=1)
CONFIG = gn_common.checkpoint_config("toy", TRAINING, data_shards=1)


class Killed(BaseException):
    """Stands for SIGKILL: nothing after the point it is raised at runs."""


def train(output_dir, targets=None, **overrides):
    """Fits w to per-iteration targets; `targets[i]` may be NaN to make iteration i diverge."""
    targets = np.arange(1.0, 9.0) if targets is None else targets
    return gn_common.train(
        training=TRAINING, checkpoint_every=overrides.pop("checkpoint_every", 4),
        loss_fn=lambda params, target: jnp.sum((params["w"] - target) ** 2),
        init_params={"w": jnp.zeros(3)},
        batches_for_iteration=lambda i, shards, num_shards: [targets[i]] * len(shards),
        evaluate=lambda params: {"w0": float(params["w"][0])}, columns=["w0"],
        output_dir=str(output_dir), config=CONFIG)


def metrics(output_dir) -> str:
    return (output_dir / run_files.METRICS_NAME).read_text()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("uninterrupted")
    params, rows = train(output_dir)
    return output_dir, params, rows


@pytest.mark.parametrize("kill_at", [1, 2])
def test_kill_between_metrics_and_checkpoint_resumes_to_the_same_files(
        uninterrupted, tmp_path, monkeypatch, kill_at):
    """Killed after metrics.csv is written for a checkpoint but before the checkpoint itself."""
    reference_dir, reference_params, reference_rows = uninterrupted
    save = checkpoints.save_checkpoint
    calls = []

    def killed_on_call(*args, **kwargs):
        calls.append(1)
        if len(calls) == kill_at:
            raise Killed
        save(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "save_checkpoint", killed_on_call)
    with pytest.raises(Killed):
        train(tmp_path)
    monkeypatch.setattr(checkpoints, "save_checkpoint", save)
    # metrics.csv ran ahead of the checkpoint (or there is none yet).
    assert metrics(tmp_path).count("\n") == 1 + 2 * kill_at
    assert os.path.exists(tmp_path / checkpoints.CHECKPOINT_NAME) == (kill_at > 1)
    params, rows = train(tmp_path)
    np.testing.assert_array_equal(params["w"], reference_params["w"])
    assert rows == reference_rows
    assert metrics(tmp_path) == metrics(reference_dir)
    with np.load(tmp_path / checkpoints.CHECKPOINT_NAME) as a, \
            np.load(reference_dir / checkpoints.CHECKPOINT_NAME) as b:
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_resume_of_a_finished_run_rewrites_short_metrics(uninterrupted, tmp_path):
    reference_dir, _, reference_rows = uninterrupted
    for name in (checkpoints.CHECKPOINT_NAME, run_files.METRICS_NAME):
        (tmp_path / name).write_bytes((reference_dir / name).read_bytes())
    (tmp_path / run_files.METRICS_NAME).write_text("step,loss\n")
    _, rows = train(tmp_path)
    assert rows == reference_rows
    assert metrics(tmp_path) == metrics(reference_dir)


def test_divergence_stops_with_readable_metrics_and_resumes_alike(tmp_path):
    targets = np.arange(1.0, 9.0)
    targets[4] = np.nan  # the loss of iteration 5 is NaN; rows are logged after 2, 4, 6, 8
    with pytest.raises(common.ExperimentError, match="training diverged: loss is nan at "
                                                     "iteration 6"):
        train(tmp_path, targets)
    rows = run_files.read_csv(str(tmp_path / run_files.METRICS_NAME))
    assert [row["step"] for row in rows] == [2, 4, 6] and np.isnan(rows[-1]["loss"])
    checkpoint = checkpoints.read_checkpoint(str(tmp_path / checkpoints.CHECKPOINT_NAME))
    assert int(checkpoint.leaves[-2]) == 4, "the checkpoint keeps the last finite state"
    with pytest.raises(common.ExperimentError, match="diverged: loss is nan at iteration 6"):
        train(tmp_path, targets)
    assert run_files.read_csv(str(tmp_path / run_files.METRICS_NAME))[:2] == rows[:2]


def test_a_damaged_row_of_metrics_is_rebuilt_from_the_checkpoint(uninterrupted, tmp_path,
                                                                 monkeypatch):
    reference_dir, _, reference_rows = uninterrupted
    save = checkpoints.save_checkpoint

    def killed_at_the_second(*args, **kwargs):
        if os.path.exists(tmp_path / checkpoints.CHECKPOINT_NAME):
            raise Killed
        save(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "save_checkpoint", killed_at_the_second)
    with pytest.raises(Killed):
        train(tmp_path)
    monkeypatch.setattr(checkpoints, "save_checkpoint", save)
    lines = metrics(tmp_path).splitlines()
    lines[1] = "2,12345.0," + lines[1].split(",", 2)[2]  # a row the checkpoint covers
    (tmp_path / run_files.METRICS_NAME).write_text("\n".join(lines) + "\n")
    _, rows = train(tmp_path)
    assert rows == reference_rows
    assert metrics(tmp_path) == metrics(reference_dir)
