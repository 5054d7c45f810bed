"""Multi-process runs (`experiments.distributed`) with two local CPU processes.

Two processes of one CPU device each, joined through a loopback coordinator (JAX's CPU
collectives, gloo), must give the numbers of one process with two forced host devices, bitwise:
the same metrics.csv, checkpoint and results. Only process 0 writes, a resumed run continues
exactly, processes that disagree on the checkpoint stop, and a process that cannot reach the
coordinator ends with one line instead of hanging. (The flag checks are rows of
test_bad_command_lines.py.)
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 600
HANABI = ["--method=bad", "--preset=very_small", "--num_envs=8", "--rollout_length=4",
          "--num_minibatches=2", "--hidden_sizes=16", "--updates_per_log=1", "--seed=3",
          "--checkpoint_every=1", "--eval_games=2"]
CHUNK = 8 * 4  # environment steps per logged chunk
SORT = ["--num_iterations=4", "--batch_size_train=4", "--batch_size_test=4",
        "--num_eval_graphs=4", "--num_processing_steps=2", "--latent_size=8", "--log_every=2",
        "--checkpoint_every=2", "--min_nodes_train=4", "--max_nodes_train=6", "--min_nodes_test=6",
        "--max_nodes_test=8"]


def environment(devices: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def command(module: str, *flags: str) -> list[str]:
    return [sys.executable, "-m", f"experiments.{module}", *flags]


def run_one_process_with_two_devices(module: str, *flags: str) -> None:
    done = subprocess.run(command(module, *flags), cwd=ROOT, env=environment(2),
                          capture_output=True, text=True, timeout=TIMEOUT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def run_two_processes(module: str, flags: list[str],
                      output_dirs: list) -> list[tuple[int, str, str]]:
    """(exit status, stdout, stderr) of processes 0 and 1 of one run, each with its output dir."""
    coordinator = f"--coordinator_address=127.0.0.1:{free_port()}"
    processes = [subprocess.Popen(
        command(module, *flags, coordinator, "--num_processes=2", f"--process_id={index}",
                "--initialization_timeout=120", f"--output_dir={output_dir}"),
        cwd=ROOT, env=environment(1), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True) for index, output_dir in enumerate(output_dirs)]
    try:
        outputs = [process.communicate(timeout=TIMEOUT) for process in processes]
    finally:
        for process in processes:
            process.kill()
    return [(p.returncode, out, err) for p, (out, err) in zip(processes, outputs)]


def assert_succeeded(results) -> None:
    for status, _, stderr in results:
        assert status == 0, stderr[-3000:]


def assert_same_checkpoints(a, b) -> None:
    with np.load(a / "checkpoint.npz") as first, np.load(b / "checkpoint.npz") as second:
        assert first.files == second.files
        for name in first.files:
            np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def results_without_timing(path) -> dict:
    results = json.loads((path / "results.json").read_text())
    return {k: v for k, v in results.items() if not k.startswith(("seconds", "train_seconds"))}


def test_a_process_that_cannot_reach_the_coordinator_ends_with_one_line(tmp_path):
    done = subprocess.run(command(
        "bad_hanabi", *HANABI, f"--coordinator_address=127.0.0.1:{free_port()}",
        "--num_processes=2", "--process_id=1", "--initialization_timeout=1",
        f"--output_dir={tmp_path / 'out'}"), cwd=ROOT, env=environment(1),
        capture_output=True, text=True, timeout=TIMEOUT, check=False)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: process 1 cannot reach the "
                                                   "coordinator at 127.0.0.1:"), done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_hanabi_on_two_processes_matches_two_devices_and_resumes(tmp_path):
    reference, shared, unused = tmp_path / "reference", tmp_path / "shared", tmp_path / "unused"
    run_one_process_with_two_devices("bad_hanabi", *HANABI, f"--num_env_steps={2 * CHUNK}",
                                     f"--output_dir={reference}")
    # Half the run, process 1 given a directory of its own: it must write nothing there.
    assert_succeeded(run_two_processes("bad_hanabi", [*HANABI, f"--num_env_steps={CHUNK}"],
                                       [shared, unused]))
    assert os.listdir(unused) == []
    # Process 1 sees no checkpoint in its directory, process 0 does: both refuse to go on.
    for status, _, stderr in run_two_processes(
            "bad_hanabi", [*HANABI, f"--num_env_steps={2 * CHUNK}"], [shared, unused]):
        assert status == 1 and "the processes disagree on the update to resume from" in stderr
    assert os.listdir(unused) == []
    # The resumed second half, both in one directory.
    assert_succeeded(run_two_processes("bad_hanabi", [*HANABI, f"--num_env_steps={2 * CHUNK}"],
                                       [shared, shared]))
    assert (shared / "metrics.csv").read_text() == (reference / "metrics.csv").read_text()
    assert_same_checkpoints(shared, reference)
    assert results_without_timing(shared) == results_without_timing(reference)
    for name in ("agent.npz", "score.png", "belief_cross_entropy.png"):
        assert (shared / name).exists(), name


@pytest.mark.slow
def test_gn_data_parallel_steps_on_two_processes_match_two_devices(tmp_path):
    reference, shared = tmp_path / "reference", tmp_path / "shared"
    run_one_process_with_two_devices("gn_sort", *SORT, f"--output_dir={reference}")
    assert_succeeded(run_two_processes("gn_sort", SORT, [shared, shared]))
    assert (shared / "metrics.csv").read_text() == (reference / "metrics.csv").read_text()
    assert_same_checkpoints(shared, reference)
    assert results_without_timing(shared) == results_without_timing(reference)
