"""Tests for experiments.common: atomic files, checkpoints that refuse foreign or damaged data."""

import dataclasses
import json
import os
import pickle
import stat

import numpy as np
import pytest

from experiments import checkpoints, common, plots, run_files, training_loop

CONFIG = {"format_version": checkpoints.FORMAT_VERSION, "lr": 1e-3}
TREE = {"w": np.arange(6.0).reshape(2, 3), "step": np.int32(7)}


def test_checkpoint_round_trip(tmp_path):
    path = str(tmp_path / "ck.npz")
    checkpoints.save_checkpoint(path, TREE, CONFIG)
    restored = checkpoints.load_checkpoint(path, TREE, CONFIG)
    np.testing.assert_array_equal(restored["w"], TREE["w"])
    assert int(restored["step"]) == 7
    assert [f for f in os.listdir(tmp_path) if f.startswith(".tmp")] == []


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04truncated",
                                     bytes(range(256)) * 4])
def test_unreadable_checkpoint_is_one_clear_error(tmp_path, content):
    path = tmp_path / "ck.npz"
    path.write_bytes(content)
    with pytest.raises(common.ExperimentError, match="not a readable .npz"):
        checkpoints.load_checkpoint(str(path), {"w": np.zeros(2)}, {})


def test_truncated_and_pickled_checkpoints(tmp_path):
    path = str(tmp_path / "ck.npz")
    checkpoints.save_checkpoint(path, TREE, CONFIG)
    data = (tmp_path / "ck.npz").read_bytes()
    (tmp_path / "ck.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(common.ExperimentError, match=f"checkpoint {path} is not a readable"):
        checkpoints.read_checkpoint(path)
    (tmp_path / "ck.npz").write_bytes(pickle.dumps({"config": "{}", "num_leaves": 0}))
    with pytest.raises(common.ExperimentError, match="read it as a pickle"):
        checkpoints.read_checkpoint(path)
    np.savez(path, config=np.asarray([{"a": 1}], dtype=object), num_leaves=0)
    with pytest.raises(common.ExperimentError, match="not a readable .npz"):
        checkpoints.read_checkpoint(path)


def test_checkpoint_from_other_config_or_model_is_refused(tmp_path):
    path = str(tmp_path / "ck.npz")
    checkpoints.save_checkpoint(path, {"w": np.zeros(2)}, {**CONFIG, "latent": 16})
    with pytest.raises(common.ExperimentError, match="latent=16"):
        checkpoints.load_checkpoint(path, {"w": np.zeros(2)}, {**CONFIG, "latent": 32})
    with pytest.raises(common.ExperimentError, match="shape"):
        checkpoints.load_checkpoint(path, {"w": np.zeros(3)}, {**CONFIG, "latent": 16})
    with pytest.raises(common.ExperimentError, match="1 arrays, expected 2"):
        checkpoints.load_checkpoint(path, {"w": np.zeros(2), "b": np.zeros(2)},
                               {**CONFIG, "latent": 16})
    np.savez(str(tmp_path / "foreign.npz"), w=np.zeros(2))
    with pytest.raises(common.ExperimentError, match="not written by this project"):
        checkpoints.load_checkpoint(str(tmp_path / "foreign.npz"), {"w": np.zeros(2)}, {})


def test_nested_config_differences_name_the_setting_and_both_values(tmp_path):
    path = str(tmp_path / "ck.npz")
    saved = {**CONFIG, "training": {"latent_size": 8, "seed": 0}, "theta": 20.0}
    checkpoints.save_checkpoint(path, TREE, saved)
    checkpoints.load_checkpoint(path, TREE, saved)
    with pytest.raises(common.ExperimentError,
                       match=r"training.latent_size=8, but this run has training.latent_size=12"):
        checkpoints.load_checkpoint(path, TREE,
                                    {**saved, "training": {"latent_size": 12, "seed": 0}})
    with pytest.raises(common.ExperimentError, match=r"theta=20.0, but this run has theta=30.0"):
        checkpoints.load_checkpoint(path, TREE, {**saved, "theta": 30.0})
    with pytest.raises(common.ExperimentError, match=r"extra='\(none\)', but this run has extra=1"):
        checkpoints.load_checkpoint(path, TREE, {**saved, "extra": 1})
    with pytest.raises(common.ExperimentError, match="exact=1"):
        checkpoints.check_config(path, {"exact": 1}, {"exact": True})


def write_npz(path, **arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


def config_entry(config) -> np.ndarray:
    return np.asarray(json.dumps(config))


@pytest.mark.parametrize("arrays, message", [
    (dict(config=config_entry([1, 2]), num_leaves=0), "a JSON list, expected an object"),
    (dict(config=config_entry("x"), num_leaves=0), "a JSON str, expected an object"),
    (dict(config=np.asarray("{not json"), num_leaves=0), "not valid JSON"),
    (dict(config=np.arange(3), num_leaves=0), "not a JSON string"),
    (dict(config=config_entry({"lr": 1}), num_leaves=0), r"format version 1 \(none recorded\)"),
    (dict(config=config_entry({"format_version": 99}), num_leaves=0),
     f"format version 99, but this code reads format version {checkpoints.FORMAT_VERSION}"),
    (dict(config=config_entry(CONFIG), num_leaves=np.asarray("3")), "num_leaves"),
    (dict(config=config_entry(CONFIG), num_leaves=-1), "num_leaves"),
    (dict(config=config_entry(CONFIG), num_leaves=2, leaf_00000=np.zeros(2)),
     "lacks array leaf_00001 of its 2"),
])
def test_damaged_checkpoint_contents_name_the_file_and_the_problem(tmp_path, arrays, message):
    path = write_npz(tmp_path / "ck.npz", **arrays)
    with pytest.raises(common.ExperimentError, match=message) as error:
        checkpoints.read_checkpoint(path)
    assert path in str(error.value)


def test_leaf_of_another_dtype_or_shape_is_refused(tmp_path):
    path = write_npz(tmp_path / "ck.npz", config=config_entry(CONFIG), num_leaves=1,
                     leaf_00000=np.asarray(["a", "b"]))
    checkpoint = checkpoints.read_checkpoint(path)
    with pytest.raises(common.ExperimentError, match="array 0 has dtype <U1, expected float64"):
        checkpoints.restore(path, checkpoint, [np.zeros(2)])
    with pytest.raises(common.ExperimentError, match=r"array 0 has shape \(2,\), expected \(3,\)"):
        checkpoints.restore(path, checkpoint, [np.zeros(3)])


def test_missing_checkpoint(tmp_path):
    with pytest.raises(common.ExperimentError, match="does not exist"):
        checkpoints.load_checkpoint(str(tmp_path / "nope.npz"), {}, {})


@dataclasses.dataclass(frozen=True)
class Inner:
    sizes: tuple[int, ...]
    rate: float
    end: float | None = None


@dataclasses.dataclass(frozen=True)
class Outer:
    inner: Inner
    name: str
    flag: bool

    def __post_init__(self):
        if not self.name:
            raise ValueError("name must not be empty.")


def test_dataclass_from_dict_rebuilds_nested_dataclasses_and_tuples():
    value = Outer(Inner((4, 8), 1), "x", True)
    data = json.loads(json.dumps(dataclasses.asdict(value)))
    assert checkpoints.dataclass_from_dict(Outer, data, "ck.npz") == value


@pytest.mark.parametrize("change, message", [
    (lambda d: d["inner"].pop("rate"), "lacks the setting inner.rate"),
    (lambda d: d.update(color=1), "unknown setting color"),
    (lambda d: d["inner"].update(sizes="48"), "inner.sizes='48', expected"),
    (lambda d: d["inner"].update(sizes=[4, "8"]), "inner.sizes"),
    (lambda d: d["inner"].update(rate=True), "inner.rate=True"),
    (lambda d: d["inner"].update(end="x"), "inner.end='x'"),
    (lambda d: d.update(flag=1), "flag=1"),
    (lambda d: d.update(inner=[1]), r"inner=\[1\], expected an object"),
    (lambda d: d.update(name=""), "Outer refuses .name must not be empty"),
])
def test_dataclass_from_dict_names_the_bad_setting(change, message):
    data = dataclasses.asdict(Outer(Inner((4,), 0.5), "x", False))
    data["inner"] = dict(data["inner"], sizes=list(data["inner"]["sizes"]))
    change(data)
    with pytest.raises(common.ExperimentError, match=f"checkpoint ck.npz .*{message}"):
        checkpoints.dataclass_from_dict(Outer, data, "ck.npz")
    with pytest.raises(common.ExperimentError, match="expected an object"):
        checkpoints.dataclass_from_dict(Outer, None, "ck.npz")


def test_output_dir_that_cannot_be_written(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(common.ExperimentError, match="--output_dir"):
        run_files.prepare_output_dir(str(blocker / "sub"))


def test_flag_checks_name_the_flag():
    with pytest.raises(common.ExperimentError, match="--batch_size"):
        common.check_positive(batch_size=0)
    with pytest.raises(common.ExperimentError, match="--cost must be positive, got nan"):
        common.check_positive(cost=float("nan"))


def test_json_and_csv_round_trip(tmp_path):
    run_files.write_json(str(tmp_path / "r.json"), {"x": np.float32(1.5), "nan": float("nan")})
    assert (tmp_path / "r.json").read_text().count("null") == 1
    rows = [{"step": 1, "loss": 0.5}, {"step": 2, "loss": 0.25}]
    run_files.write_csv(str(tmp_path / "m.csv"), rows)
    assert run_files.read_csv(str(tmp_path / "m.csv")) == [
        {"step": 1.0, "loss": 0.5}, {"step": 2.0, "loss": 0.25}]


def test_non_finite_metrics_are_written_and_read_back(tmp_path):
    path = str(tmp_path / "m.csv")
    run_files.write_csv(path, [{"step": 1, "loss": np.float32("nan"), "gain": float("-inf")}])
    assert "nan" in (tmp_path / "m.csv").read_text()
    [row] = run_files.read_csv(path)
    assert np.isnan(row["loss"]) and row["gain"] == float("-inf")
    with pytest.raises(common.ExperimentError, match="training diverged: loss is nan at step 1"):
        training_loop.require_finite(row, ["loss"], "step 1")


@pytest.mark.parametrize("text, message", [
    ("step,loss\n1,\n", "line 2, column loss: '' is not a number"),
    ("step,loss\n1,0.5\n2,abc\n", "line 3, column loss: 'abc'"),
    ("step,loss\n1,0.5,7\n", "line 2 does not have one value for each of the 2 columns"),
    ("step,loss\n1\n", "line 2 does not have one value"),
])
def test_damaged_metrics_name_the_file_line_and_column(tmp_path, text, message):
    path = tmp_path / "m.csv"
    path.write_text(text)
    with pytest.raises(common.ExperimentError, match=message) as error:
        run_files.read_csv(str(path))
    assert str(path) in str(error.value)
    path.write_bytes(b"step\n\xff\xfe\n")
    with pytest.raises(common.ExperimentError, match="cannot be read as CSV"):
        run_files.read_csv(str(path))


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_output_files_follow_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        run_files.write_json(str(tmp_path / "r.json"), {"a": 1})
        run_files.write_csv(str(tmp_path / "m.csv"), [{"a": 1}])
        checkpoints.save_checkpoint(str(tmp_path / "ck.npz"), TREE, CONFIG)
        figure, axes = plots.new_figure()
        axes[0, 0].plot([0, 1])
        plots.save_figure(figure, str(tmp_path / "p.png"))
    finally:
        os.umask(old)
    for name in ("r.json", "m.csv", "ck.npz", "p.png"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o666 & ~umask, name
