"""benchmarks.ab: a tiny A/B of the work tree against HEAD, and one-line refusals."""

import pathlib
import re
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]

MODULE = "benchmarks.ab"
ROUNDS = ["--rounds=1", "--min_round_seconds=0"]
TINY = ["bad_hanabi_throughput", "--preset=very_small", "--num_envs=4", "--rollout_length=2",
        "--num_epochs=1", "--num_minibatches=1", "--updates=1", "--methods=ippo",
        "--hidden_sizes=8"]


def _head() -> str:
    return subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.mark.slow  # two checkouts' workers compile and time (about 50 s); refusals below are fast
def test_times_the_work_tree_and_the_base_interleaved(run_benchmark, read_reports):
    base = f"base {_head()[:7]} ippo"
    result = run_benchmark(MODULE, "--base=HEAD", *ROUNDS, "--", *TINY)
    assert result.returncode == 0, result.stderr
    (report,) = read_reports(result.stdout)
    assert report["title"].startswith("ippo: benchmarks.bad_hanabi_throughput --preset=very_small")
    assert f"against {base.removesuffix(' ippo')}" in report["title"]
    assert "1 rounds" in report["protocol"]
    assert list(report["rows"]) == ["work ippo", base]
    assert all(float(cells[0].replace(",", "")) > 0 for cells in report["rows"].values())
    assert report["rows"]["work ippo"][4] == "1.00x"
    assert re.fullmatch(r"\d+\.\d\dx", report["rows"][base][4]), report["rows"][base]
    assert "peak RSS" in report["rows"][base][5]


@pytest.mark.parametrize("args, word", [
    (["--base=no-such-commit", "--", *TINY], "--base"),
    (["--base=HEAD", *TINY], "missing `--`"),
    (["--", *TINY], "--base is required"),
    (["--base=HEAD", "--", "no_such_benchmark"], "no_such_benchmark"),
    (["--base=HEAD", "--", "env_throughput"], "env_throughput"),
    (["--base=HEAD", "--", *TINY, "--rounds=2"], "--rounds"),
    (["--base=HEAD", "--rounds=0", "--", *TINY], "--rounds"),
    (["--base=HEAD", "--", *TINY, "--parts"], "--parts"),  # refused by the base's worker
])
def test_bad_arguments_give_one_line(run_benchmark, assert_one_line_error, args, word):
    assert_one_line_error(run_benchmark(MODULE, *ROUNDS, *args), word)
