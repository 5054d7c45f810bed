"""`make demo` (`python -m experiments.demo`) runs end to end and prints its one table (slow: a
few minutes)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_the_demo_runs_and_prints_every_row(tmp_path):
    done = subprocess.run([sys.executable, "-m", "experiments.demo", f"--output_dir={tmp_path}"],
                          capture_output=True, text=True, cwd=ROOT, timeout=1800, check=False,
                          env={**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": ROOT})
    assert done.returncode == 0, done.stderr[-3000:]
    for row in ("random legal moves (open_spiel)", "random legal moves (hle)",
                "two-step matrix game (tiny_hanabi)", "BAD matrix game, 100 seeds: bad_cf",
                "GN shortest path, 16-32 nodes", "pretrained 'full' agent"):
        assert row in done.stdout
    assert os.path.isfile(tmp_path / "shortest_path" / "results.json")
