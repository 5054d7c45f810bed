"""Tests for experiments.common: atomic files, checkpoints that refuse foreign data."""

import os

import numpy as np
import pytest

from experiments import common


def test_checkpoint_round_trip(tmp_path):
    path = str(tmp_path / "ck.npz")
    tree = {"w": np.arange(6.0).reshape(2, 3), "step": np.int32(7)}
    common.save_checkpoint(path, tree, {"lr": 1e-3})
    restored = common.load_checkpoint(path, tree, {"lr": 1e-3})
    np.testing.assert_array_equal(restored["w"], tree["w"])
    assert int(restored["step"]) == 7
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04truncated"])
def test_unreadable_checkpoint_is_one_clear_error(tmp_path, content):
    path = tmp_path / "ck.npz"
    path.write_bytes(content)
    with pytest.raises(common.ExperimentError, match="not a readable .npz"):
        common.load_checkpoint(str(path), {"w": np.zeros(2)}, {})


def test_checkpoint_from_other_config_or_model_is_refused(tmp_path):
    path = str(tmp_path / "ck.npz")
    common.save_checkpoint(path, {"w": np.zeros(2)}, {"latent": 16})
    with pytest.raises(common.ExperimentError, match="latent=16"):
        common.load_checkpoint(path, {"w": np.zeros(2)}, {"latent": 32})
    with pytest.raises(common.ExperimentError, match="shape"):
        common.load_checkpoint(path, {"w": np.zeros(3)}, {"latent": 16})
    np.savez(str(tmp_path / "foreign.npz"), w=np.zeros(2))
    with pytest.raises(common.ExperimentError, match="not written by this project"):
        common.load_checkpoint(str(tmp_path / "foreign.npz"), {"w": np.zeros(2)}, {})


def test_missing_checkpoint(tmp_path):
    with pytest.raises(common.ExperimentError, match="does not exist"):
        common.load_checkpoint(str(tmp_path / "nope.npz"), {}, {})


def test_output_dir_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(common.ExperimentError, match="--output_dir"):
        common.prepare_output_dir(str(blocker / "sub"))


def test_flag_checks_name_the_flag():
    with pytest.raises(common.ExperimentError, match="--batch_size"):
        common.check_positive(batch_size=0)
    with pytest.raises(common.ExperimentError, match="--min_nodes"):
        common.check_range("nodes", 9, 8)
    with pytest.raises(common.ExperimentError, match="--min_nodes"):
        common.check_range("nodes", 0, 8)


def test_json_and_csv_round_trip(tmp_path):
    common.write_json(str(tmp_path / "r.json"), {"x": np.float32(1.5), "nan": float("nan")})
    assert (tmp_path / "r.json").read_text().count("null") == 1
    rows = [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}]
    common.write_csv(str(tmp_path / "m.csv"), rows)
    assert common.read_csv(str(tmp_path / "m.csv")) == [
        {"step": 1.0, "loss": 0.5}, {"step": 2.0, "loss": 0.25}]
