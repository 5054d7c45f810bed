"""Bad input to the graph network demo binaries: one line on stderr, non-zero exit, no damage."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ENV = {**os.environ, "JAX_PLATFORMS": "cpu"}


def run(demo: str, output_dir, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"experiments.{demo}", f"--output_dir={output_dir}", *flags],
        cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("demo, flags, message", [
    ("gn_shortest_path", ["--min_nodes_train=9", "--max_nodes_train=4"], "--min_nodes_train (9)"),
    ("gn_sort", ["--min_nodes_test=0"], "--min_nodes_test must be at least 1"),
    ("gn_shortest_path", ["--batch_size_train=0"], "--batch_size_train must be positive"),
    ("gn_sort", ["--num_iterations=-3"], "--num_iterations must be positive"),
    ("gn_physics", ["--min_masses_train=6", "--max_masses_train=5"], "--min_masses_train (6)"),
    ("gn_physics", ["--test_masses=4,x"], "--test_masses must be integers"),
])
def test_bad_flags_fail_with_one_line(demo, flags, message, tmp_path):
    output_dir = tmp_path / "out"
    result = run(demo, output_dir, *flags)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not output_dir.exists()


def test_unwritable_output_dir_fails_with_one_line(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("keep me")
    result = run("gn_sort", blocker / "out")
    assert result.returncode != 0
    assert "cannot be written" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert blocker.read_text() == "keep me"
