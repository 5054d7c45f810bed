"""Helpers of the benchmark smoke tests: run a benchmark binary, read the reports it prints."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def _run(module: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "JAX_PLATFORMS": "cpu", **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=environment,
                          capture_output=True, text=True, timeout=900, check=False)


def _reports(stdout: str) -> list[dict]:
    """Each `harness.format_report` block: title, machine, protocol, ratio lines and the rows
    ({contender name: its cells}), checking the block's shape on the way."""
    lines = stdout.splitlines()
    reports = []
    for start, line in enumerate(lines):
        if not line.startswith("== "):
            continue
        machine, protocol, ratio, header = lines[start + 1:start + 5]
        assert machine.startswith("machine: ") and " cores; load average " in machine, machine
        assert " before, " in machine and machine.endswith(" after"), machine
        assert protocol.startswith("protocol: "), protocol
        assert ratio.startswith("ratio: "), ratio
        assert re.split(r"\s{2,}", header)[0] == "contender", header
        rows = {}
        for row in lines[start + 5:]:
            if not row or row.startswith(("== ", "note: ", "check: ")):
                break
            cells = re.split(r"\s{2,}", row.strip())
            rows[cells[0]] = cells[1:]
        reports.append({"title": line[3:], "protocol": protocol, "rows": rows})
    return reports


def _assert_helpfull_lists(module: str, *flags: str) -> None:
    result = _run(module, "--helpfull")
    assert "Traceback" not in result.stderr, result.stderr
    for flag in flags:
        assert flag in result.stdout, (flag, result.stdout)


def _assert_one_line_error(result: subprocess.CompletedProcess, word: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: ") and word in result.stderr, result.stderr
    assert "== " not in result.stdout, result.stdout


@pytest.fixture
def run_benchmark():
    """`run_benchmark(module, *args, env=None)`: the finished subprocess, on the CPU."""
    return _run


@pytest.fixture
def read_reports():
    """`read_reports(stdout)`: the reports printed, their shape checked."""
    return _reports


@pytest.fixture
def assert_one_line_error():
    """`assert_one_line_error(result, word)`: exit 1, one `error:` line naming `word`."""
    return _assert_one_line_error


@pytest.fixture
def assert_helpfull_lists():
    """`assert_helpfull_lists(module, *flags)`: `--helpfull` runs and lists every flag."""
    return _assert_helpfull_lists
