"""Fixtures shared by every test directory."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def run_on_two_host_devices():
    """`run(script) -> stdout`: runs Python code in a fresh interpreter that sees two CPU devices.

    XLA reads `--xla_force_host_platform_device_count` when jax starts, hence the fresh
    interpreter. A non-zero exit fails the test with the script's stderr.
    """
    def run(script: str) -> str:
        env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
                   JAX_PLATFORMS="cpu", PYTHONPATH=ROOT)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=600, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    return run
