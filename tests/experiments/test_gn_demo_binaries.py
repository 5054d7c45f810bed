"""The graph network demo binaries end to end with tiny flags: files, exact resume."""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from graphnets.datasets import shortest_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LABELLING = dict(num_iterations=30, batch_size_train=48, batch_size_test=8, num_eval_graphs=8,
                 num_processing_steps=2, num_processing_steps_test=3, latent_size=8, log_every=5,
                 checkpoint_every=5,
                 min_nodes_train=12, max_nodes_train=16, min_nodes_test=6, max_nodes_test=8)
PHYSICS = dict(num_iterations=4, batch_size_train=8, batch_size_test=3, num_eval_graphs=3,
               latent_size=8, log_every=2, checkpoint_every=2, rollout_steps=5, test_masses="4,6")


def flag_list(settings: dict, **overrides) -> list[str]:
    return [f"--{name}={value}" for name, value in {**settings, **overrides}.items()]


LABELLING_FLAGS = flag_list(LABELLING)
# As `make test` does; it also keeps JAX's "no TPU" log line off stderr.
ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}


def command(demo: str, output_dir, *flags: str) -> list[str]:
    return [sys.executable, "-m", f"experiments.{demo}", f"--output_dir={output_dir}", *flags]


def run(demo: str, output_dir, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(command(demo, output_dir, *flags), cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=1200)


def read(path) -> str:
    with open(path) as handle:
        return handle.read()


def kill_at_first_checkpoint(demo: str, output_dir, *flags: str) -> None:
    """Starts `demo` and kills it (SIGKILL) as soon as its first checkpoint exists."""
    process = subprocess.Popen(command(demo, output_dir, *flags), cwd=ROOT, env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = os.path.join(output_dir, "checkpoint.npz")
    while not os.path.exists(checkpoint) and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()


def damage_a_checkpointed_row(output_dir) -> None:
    """What a killed run may leave: the first row of metrics.csv (which its checkpoint covers)
    damaged, and a temporary file of a write the kill cut short."""
    path = os.path.join(output_dir, "metrics.csv")
    lines = read(path).splitlines()
    lines[1] = ",".join(lines[1].split(",")[:1] + ["12345.0"] + lines[1].split(",")[2:])
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(os.path.join(output_dir, ".tmp-k1ll3dmetrics.csv"), "w") as handle:
        handle.write("step,lo")


def headline(output_dir) -> dict:
    results = json.loads(read(os.path.join(output_dir, "results.json")))
    return {k: v for k, v in results.items() if k != "seconds_this_process"}


@pytest.fixture(scope="module")
def shortest_path_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp("shortest_path")
    result = run("gn_shortest_path", output_dir, *LABELLING_FLAGS)
    assert result.returncode == 0, result.stderr
    return output_dir, result


def test_shortest_path_writes_results_metrics_plots(shortest_path_run):
    output_dir, result = shortest_path_run
    files = set(os.listdir(output_dir))
    assert {"results.json", "metrics.csv", "learning_curves.png", "generalisation_example.png",
            "checkpoint.npz"} <= files
    results = headline(output_dir)
    for split in ("train_range", "generalisation_range"):
        assert set(results[split]) >= {"node_accuracy", "edge_accuracy", "solved"}
        assert 0 <= results[split]["solved"] <= 1
    assert read(os.path.join(output_dir, "metrics.csv")).count("\n") == 1 + 30 // 5
    assert results["config"]["num_processing_steps_test"] == 3
    assert "node acc" in result.stdout and "step 30/30" in result.stdout


@pytest.mark.slow  # rn_sort_of_clevr's kill test covers the same gn_common loop
def test_resume_after_kill_gives_the_uninterrupted_numbers(shortest_path_run, tmp_path):
    reference_dir, _ = shortest_path_run
    kill_at_first_checkpoint("gn_shortest_path", tmp_path, *LABELLING_FLAGS)
    damage_a_checkpointed_row(tmp_path)
    resumed = run("gn_shortest_path", tmp_path, *LABELLING_FLAGS)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    assert "at iteration 30" not in resumed.stdout, "the kill came too late to test a resume"
    assert headline(tmp_path) == headline(reference_dir)
    assert read(tmp_path / "metrics.csv") == read(reference_dir / "metrics.csv")


def test_checkpoint_of_another_configuration_is_refused_and_kept(shortest_path_run):
    output_dir, _ = shortest_path_run
    before = {name: read(os.path.join(output_dir, name)) if name.endswith((".json", ".csv"))
              else os.path.getmtime(os.path.join(output_dir, name))
              for name in os.listdir(output_dir)}
    result = run("gn_shortest_path", output_dir, *LABELLING_FLAGS, "--latent_size=12")
    assert result.returncode != 0
    assert "latent_size" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    after = {name: read(os.path.join(output_dir, name)) if name.endswith((".json", ".csv"))
             else os.path.getmtime(os.path.join(output_dir, name))
             for name in os.listdir(output_dir)}
    assert after == before


def test_checkpoint_of_another_theta_is_refused(shortest_path_run):
    output_dir, _ = shortest_path_run
    config = headline(output_dir)["config"]
    assert config["theta"] == shortest_path.THETA and config["format_version"] == 2
    assert config["training"]["latent_size"] == 8 and config["sizes"]["max_nodes_test"] == 8
    result = run("gn_shortest_path", output_dir, *LABELLING_FLAGS, "--theta=10")
    assert result.returncode == 1
    assert f"theta={shortest_path.THETA!r}, but this run has theta=10.0" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_outputs_follow_the_umask(shortest_path_run):
    output_dir, _ = shortest_path_run
    umask = os.umask(0)
    os.umask(umask)
    for name in ("results.json", "metrics.csv", "checkpoint.npz", "learning_curves.png"):
        assert stat.S_IMODE(os.stat(os.path.join(output_dir, name)).st_mode) == 0o666 & ~umask


def test_sort_end_to_end(tmp_path):
    result = run("gn_sort", tmp_path,
                 *flag_list(LABELLING, num_iterations=4, log_every=2, batch_size_train=4))
    assert result.returncode == 0, result.stderr
    assert {"results.json", "metrics.csv", "learning_curves.png",
            "generalisation_example.png"} <= set(os.listdir(tmp_path))
    assert headline(tmp_path)["generalisation_range"]["max_nodes"] == 8


def test_physics_end_to_end(tmp_path):
    result = run("gn_physics", tmp_path, *flag_list(PHYSICS))
    assert result.returncode == 0, result.stderr
    assert {"results.json", "metrics.csv", "learning_curves.png",
            "rollouts.png"} <= set(os.listdir(tmp_path))
    results = headline(tmp_path)
    for size in ("4_masses", "6_masses"):
        figures = results[size]
        assert np.isfinite(figures["model_rollout_position_error"])
        assert figures["baseline_rollout_position_error"] > 0
