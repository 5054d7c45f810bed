"""experiments.run_files: one live run per output folder, no temporary files left behind."""

import os
import signal
import subprocess
import sys

import pytest

from experiments import common, run_files

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": ROOT}
# Holds the lock of the folder argv[1] until killed.
OWNER = ("import sys, time\n"
         "from experiments import run_files\n"
         "run_files.prepare_output_dir(sys.argv[1])\n"
         "print('locked', flush=True)\n"
         "time.sleep(600)\n")


@pytest.fixture
def owner(tmp_path):
    """A live process holding the lock of `tmp_path / "out"`."""
    process = subprocess.Popen([sys.executable, "-c", OWNER, str(tmp_path / "out")], cwd=ROOT,
                               env=ENV, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "locked"
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_a_folder_in_use_by_a_live_run_is_refused(owner, tmp_path):
    with pytest.raises(common.ExperimentError, match=f"in use by a running process .pid "
                                                     f"{owner.pid}"):
        run_files.prepare_output_dir(str(tmp_path / "out"))


def test_a_second_binary_on_a_live_runs_folder_exits_in_one_line(owner, tmp_path):
    before = sorted(os.listdir(tmp_path / "out"))
    result = subprocess.run(
        [sys.executable, "-m", "experiments.bad_matrix_game", "--methods=pg", "--num_seeds=2",
         "--num_updates=2", "--eval_every=1", f"--output_dir={tmp_path / 'out'}"],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert f"pid {owner.pid}" in lines[0] and "--output_dir" in lines[0]
    assert sorted(os.listdir(tmp_path / "out")) == before


def test_a_killed_owners_lock_is_taken_over(owner, tmp_path):
    out = tmp_path / "out"
    (out / ".tmp-abc123metrics.csv").write_text("half a fil")  # a write the kill cut short
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    assert (out / run_files.LOCK_NAME).read_text().strip() == str(owner.pid)
    assert run_files.prepare_output_dir(str(out)) == str(out)
    try:
        assert (out / run_files.LOCK_NAME).read_text().strip() == str(os.getpid())
        assert not (out / ".tmp-abc123metrics.csv").exists()
    finally:
        run_files.release_output_dirs()
    assert os.listdir(out) == []


def test_a_lock_file_of_a_process_long_gone_is_taken_over(tmp_path):
    (tmp_path / run_files.LOCK_NAME).write_text("999999999\n")
    run_files.prepare_output_dir(str(tmp_path))
    run_files.prepare_output_dir(str(tmp_path))  # the owner again: no-op
    run_files.release_output_dirs()
    assert os.listdir(tmp_path) == []


def test_the_lock_is_released_when_main_ends(tmp_path):
    def main(argv):
        run_files.prepare_output_dir(str(tmp_path))
        assert (tmp_path / run_files.LOCK_NAME).exists()
        raise common.ExperimentError("stop")

    with pytest.raises(SystemExit):
        common.run_in_process(main, ["test"])
    assert os.listdir(tmp_path) == []


def test_only_the_writer_locks_and_cleans(tmp_path):
    (tmp_path / ".tmp-x").write_text("x")
    run_files.prepare_output_dir(str(tmp_path), writer=False)
    assert sorted(os.listdir(tmp_path)) == [".tmp-x"]


def test_stale_temporary_files_are_removed_and_nothing_else(tmp_path):
    for name in [".tmp-1checkpoint.npz", ".write-test-xyz", "metrics.csv", ".tmpfoo"]:
        (tmp_path / name).write_text("x")
    (tmp_path / ".tmp-dir").mkdir()
    assert run_files.remove_stale_files(str(tmp_path)) == [".tmp-1checkpoint.npz",
                                                           ".write-test-xyz"]
    assert sorted(os.listdir(tmp_path)) == [".tmp-dir", ".tmpfoo", "metrics.csv"]


def test_runs_started_together_never_hold_the_lock_at_once(tmp_path):
    script = ("import sys, time\n"
              "from experiments import common, run_files\n"
              "try:\n"
              "    run_files.prepare_output_dir(sys.argv[1])\n"
              "except common.ExperimentError:\n"
              "    sys.exit(0)\n"
              "start = time.monotonic(); time.sleep(1)\n"
              "print(start, time.monotonic())\n")
    processes = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT,
                                  env=ENV, stdout=subprocess.PIPE, text=True) for _ in range(4)]
    held = sorted(tuple(map(float, line.split())) for process in processes
                  for line in process.communicate(timeout=120)[0].splitlines())
    assert held, "one of them holds the lock"
    for (_, end), (start, _) in zip(held, held[1:]):
        assert end <= start, held
    assert os.listdir(tmp_path) == []
