"""training_loop.train with a toy trainer whose checkpoint has no room for the metrics log (as
bad_hanabi's): the log kept beside it, kills between the files, damaged and old-style metrics.

The GN demos' variant (the log inside the checkpoint) is in test_gn_training_loop.py.
"""

import os

import numpy as np
import pytest

from experiments import checkpoints, common, run_files, training_loop

CONFIG = {"format_version": checkpoints.FORMAT_VERSION, "toy": 1}
STEPS = 6
COLUMNS = ("env_steps", "value", "loss")


class Killed(BaseException):
    """Stands for SIGKILL: nothing after the point it is raised at runs."""


def toy_trainer(losses=None) -> training_loop.Trainer:
    """Counts x += step + 1 per step, logged every step in units of 10 environment steps."""
    losses = losses or {}
    return training_loop.Trainer(
        init=lambda: {"x": np.zeros((), np.float64), "done": np.zeros((), np.int64)},
        step=lambda state, done: {"x": state["x"] + done + 1, "done": state["done"] + 1},
        to_device=lambda state: state, to_host=lambda state: state,
        row=lambda state, done: {"env_steps": done * 10, "value": float(state["x"]) / 3,
                                 "loss": losses.get(done, 0.5)},
        losses=lambda state, row: {"loss": row["loss"]},
        checkpoint_tree=lambda state, done, log: state,
        from_checkpoint=lambda state: (state, int(state["done"]), None),
        num_steps=STEPS, checkpoint_every=2, log_steps=range(1, STEPS + 1), columns=COLUMNS,
        int_columns={"env_steps"}, describe=lambda done: f"{done * 10} environment steps",
        row_name="10-step chunk", progress_unit=10, log_in_checkpoint=False)


def train(output_dir, trainer=None):
    state, rows = training_loop.train(trainer or toy_trainer(), str(output_dir), CONFIG)
    return float(state["x"]), rows


def files(output_dir) -> dict[str, bytes]:
    return {name: (output_dir / name).read_bytes() for name in sorted(os.listdir(output_dir))}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("uninterrupted")
    x, rows = train(output_dir)
    assert x == sum(range(1, STEPS + 1)) and len(rows) == STEPS
    assert sorted(os.listdir(output_dir)) == [checkpoints.CHECKPOINT_NAME, run_files.METRICS_NAME,
                                              training_loop.LOG_NAME]
    return output_dir, x, rows


def kill_at(monkeypatch, output_dir, call: int) -> None:
    """Runs the toy training, killed at `save_checkpoint`'s `call`-th call (log or checkpoint)."""
    save, calls = checkpoints.save_checkpoint, []

    def killed_on_call(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise Killed
        save(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "save_checkpoint", killed_on_call)
    with pytest.raises(Killed):
        train(output_dir)
    monkeypatch.setattr(checkpoints, "save_checkpoint", save)


@pytest.mark.parametrize("call", [1, 2, 3, 4])  # log, checkpoint, log, checkpoint
def test_a_kill_between_the_files_resumes_to_the_same_files(uninterrupted, tmp_path,
                                                             monkeypatch, call):
    reference_dir, reference_x, reference_rows = uninterrupted
    kill_at(monkeypatch, tmp_path, call)
    assert train(tmp_path) == (reference_x, reference_rows)
    assert files(tmp_path) == files(reference_dir)


def test_a_damaged_metrics_file_is_rebuilt_from_the_log(uninterrupted, tmp_path, monkeypatch):
    reference_dir, _, reference_rows = uninterrupted
    kill_at(monkeypatch, tmp_path, 4)  # checkpoint at 2 steps, metrics.csv at 4
    text = (tmp_path / run_files.METRICS_NAME).read_text()
    (tmp_path / run_files.METRICS_NAME).write_text(text.replace("10,0.3333333333333333,0.5",
                                                                "10,99,0.5"))
    assert "99" in (tmp_path / run_files.METRICS_NAME).read_text()
    assert train(tmp_path)[1] == reference_rows
    assert files(tmp_path) == files(reference_dir)


def test_a_run_begun_without_the_log_resumes_from_its_metrics(uninterrupted, tmp_path,
                                                               monkeypatch):
    """Checkpoints of code older than metrics_log.npz: metrics.csv, checked row by row."""
    reference_dir, _, reference_rows = uninterrupted
    kill_at(monkeypatch, tmp_path, 4)
    os.unlink(tmp_path / training_loop.LOG_NAME)
    assert train(tmp_path)[1] == reference_rows
    assert files(tmp_path) == files(reference_dir)
    (tmp_path / "short").mkdir()
    kill_at(monkeypatch, tmp_path / "short", 4)
    os.unlink(tmp_path / "short" / training_loop.LOG_NAME)
    (tmp_path / "short" / run_files.METRICS_NAME).write_text("env_steps,value,loss\n10,0.3,0.5\n")
    with pytest.raises(common.ExperimentError, match="metrics.csv does not hold one row per "
                                                     "10-step chunk up to its checkpoint's 20 "
                                                     "environment steps"):
        train(tmp_path / "short")


def test_a_log_that_does_not_reach_its_checkpoint_is_refused(uninterrupted, tmp_path):
    reference_dir, _, _ = uninterrupted
    for name, data in files(reference_dir).items():
        (tmp_path / name).write_bytes(data)
    checkpoints.save_checkpoint(str(tmp_path / training_loop.LOG_NAME), np.zeros((2, 3)),
                                training_loop.log_header(toy_trainer(), CONFIG))
    with pytest.raises(common.ExperimentError, match="does not hold the 6 rows"):
        train(tmp_path)
    checkpoints.save_checkpoint(str(tmp_path / training_loop.LOG_NAME), np.zeros((6, 3)),
                                {**training_loop.log_header(toy_trainer(), CONFIG), "run": {}})
    with pytest.raises(common.ExperimentError, match="metrics_log.npz was written with"):
        train(tmp_path)


def test_divergence_stops_before_the_checkpoint(tmp_path):
    with pytest.raises(common.ExperimentError, match="training diverged: loss is nan at 30 "
                                                     "environment steps"):
        train(tmp_path, toy_trainer({3: float("nan")}))
    rows = run_files.read_csv(str(tmp_path / run_files.METRICS_NAME))
    assert [row["env_steps"] for row in rows] == [10, 20, 30] and np.isnan(rows[-1]["loss"])
    state = checkpoints.read_checkpoint(str(tmp_path / checkpoints.CHECKPOINT_NAME))
    assert int(state.leaves[0]) == 2, "the checkpoint keeps the last finite state"
