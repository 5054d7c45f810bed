"""benchmarks.env_throughput: tiny interleaved tables per backend, one-line errors on bad flags."""

import pytest

MODULE = "benchmarks.env_throughput"
TINY = ["--steps=50", "--batch_size=4", "--rounds=2", "--min_round_seconds=0"]


def test_compares_each_adapter_with_its_raw_loop(run_benchmark, read_reports):
    result = run_benchmark(MODULE, *TINY)
    assert result.returncode == 0, result.stderr
    reports = read_reports(result.stdout)
    assert [list(r["rows"]) for r in reports] == [["HanabiGame (open_spiel, batch 4)",
                                                   "pyspiel loop"],
                                                  ["HanabiGame (hle, batch 4)", "HLE rl_env"]]
    assert all("2 rounds" in r["protocol"] for r in reports)


@pytest.mark.parametrize("flag, word", [("--backends=open_spiel,gym", "--backends"),
                                        ("--steps=0", "--steps"),
                                        ("--batch_size=-2", "--batch_size"),
                                        ("stray", "stray")])
def test_bad_flags_give_one_line(run_benchmark, assert_one_line_error, flag, word):
    assert_one_line_error(run_benchmark(MODULE, *TINY, flag), word)


def test_helpfull_lists_the_flags(assert_helpfull_lists):
    assert_helpfull_lists(MODULE, "--backends", "--rounds")
