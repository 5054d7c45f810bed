"""benchmarks.accelerator_check: reports read back, the time budget kept, a tiny run on the CPU."""

import pytest

from benchmarks import accelerator_check, harness

MODULE = "benchmarks.accelerator_check"


def test_a_printed_report_is_read_back():
    summaries = [harness.summarize("ours (16 units)", [harness.Round(10, 2.0, 4.0)], "1 MiB"),
                 harness.summarize("theirs", [harness.Round(10, 4.0, 4.0)])]
    text = "\n".join(["note: JaxMARL unavailable", harness.format_report(
        "Hanabi, 8 games; jax on cpu", "steps", summaries, 1, 0.0, "1", "1"), "check: fine"])
    (report,) = harness.parse_reports(text)
    assert report == harness.Report("Hanabi, 8 games; jax on cpu", "steps",
                                    {"ours (16 units)": "5", "theirs": "2.5"})
    outcome = accelerator_check.Outcome("benchmarks.jax_hanabi_throughput", text)
    assert accelerator_check.summary_rows(outcome)[0] == [
        "jax_hanabi_throughput", "Hanabi, 8 games", "ours (16 units)", "5", "steps/s"]


def test_a_spent_budget_stops_the_check_and_says_so(run_benchmark):
    result = run_benchmark(MODULE, "--tiny", "--budget_seconds=1")
    assert result.returncode == 1, result.stderr
    summary = result.stdout.split("== accelerator check:")[1]
    assert "jax_hanabi_throughput  stopped after 1 s (the budget)" in summary
    assert summary.count("not run: the budget was spent") == 2


def test_bad_flags_give_one_line(run_benchmark, assert_one_line_error):
    assert_one_line_error(run_benchmark(MODULE, "--budget_seconds=0"), "--budget_seconds")


@pytest.mark.slow
def test_tiny_check_measures_every_benchmark_on_the_cpu(run_benchmark):
    result = run_benchmark(MODULE, "--tiny")
    assert result.returncode == 0, result.stderr
    summary = result.stdout.split("== accelerator check:")[1]
    for benchmark, contender in [("jax_hanabi_throughput", "hanabi_jax"),
                                 ("bad_hanabi_throughput", "bad"),
                                 ("bad_hanabi_throughput", "ippo"),
                                 ("gn_throughput", "graphnets.GraphNetwork"),
                                 ("gn_throughput", "graphnets EncodeProcessDecode")]:
        assert any(line.startswith(benchmark) and contender in line
                   for line in summary.splitlines()), (benchmark, contender, summary)
    assert "JaxMARL unavailable" in result.stdout and "PyG unavailable" in result.stdout
