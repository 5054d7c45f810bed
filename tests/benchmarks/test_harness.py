"""benchmarks.harness: interleaving, statistics, the report format, workers and flag checks."""

import pathlib
import sys

import pytest

from benchmarks import harness

REPO = pathlib.Path(__file__).resolve().parents[2]


class Logged:
    """A contender that logs its calls and does `units` per call."""

    def __init__(self, name, log, units=1.0):
        self.name, self.note, self.log, self.units = name, "", log, units

    def warm_up(self):
        self.log.append(("warm_up", self.name))

    def run_round(self, min_seconds):
        self.log.append(("round", self.name))
        return harness.Round(self.units, 2.0, 4.0)


def test_rounds_alternate_their_order():
    assert harness.round_orders(["a", "b", "c"], 3) == [["a", "b", "c"], ["c", "b", "a"],
                                                        ["a", "b", "c"]]


def test_interleave_warms_up_first_then_alternates():
    log = []
    results = harness.interleave([Logged("a", log), Logged("b", log)], 3, 0.0)
    assert log == [("warm_up", "a"), ("warm_up", "b"), ("round", "a"), ("round", "b"),
                   ("round", "b"), ("round", "a"), ("round", "a"), ("round", "b")]
    assert [len(rounds) for rounds in results.values()] == [3, 3]


def test_interleave_refuses_two_contenders_of_one_name():
    with pytest.raises(ValueError, match="distinct"):
        harness.interleave([Logged("a", []), Logged("a", [])], 1, 0.0)


def test_timed_round_calls_at_least_once_and_adds_up_the_units():
    calls = []
    one = harness.timed_round(lambda: calls.append(1) or 3.0, 0.0)
    assert len(calls) == 1 and one.units == 3.0 and one.wall_seconds > 0
    several = harness.timed_round(lambda: calls.append(1) or 3.0, 0.02)
    assert several.units == 3.0 * (len(calls) - 1) and several.wall_seconds >= 0.02


def test_summary_median_spread_and_quartiles():
    rounds = [harness.Round(units, 1.0, 2.0) for units in (5.0, 1.0, 3.0, 2.0, 4.0)]
    summary = harness.summarize("x", rounds)
    assert summary.rates == (5.0, 1.0, 3.0, 2.0, 4.0)
    assert summary.median == 3.0 and summary.cpu_median == 1.5
    assert summary.quartiles == (2.0, 4.0)
    single = harness.summarize("y", [harness.Round(6.0, 2.0, 0.0)])
    assert single.quartiles == (3.0, 3.0) and single.cpu_rates == (float("inf"),)


def test_report_gives_the_ratio_of_medians_to_the_first_contender():
    ours = harness.summarize("ours", [harness.Round(u, 1.0, 1.0) for u in (300.0, 200.0, 100.0)])
    peer = harness.summarize("peer", [harness.Round(u, 1.0, 1.0) for u in (50.0, 100.0)],
                             note="v1")
    text = harness.format_report("T", "steps", [ours, peer], 3, 2.0, "1 / 2 / 3", "4 / 5 / 6")
    lines = text.splitlines()
    assert lines[0] == "== T"
    assert lines[1].startswith("machine: ") and lines[1].endswith(
        "cores; load average (1 / 5 / 15 min) 1 / 2 / 3 before, 4 / 5 / 6 after")
    assert lines[2].startswith("protocol: 3 rounds of at least 2 s each")
    assert lines[4].split()[:3] == ["contender", "median", "steps/s"]
    assert lines[5].split() == ["ours", "200", "100-300", "150-250", "200", "1.00x"]
    assert lines[6].split() == ["peer", "75", "50-100", "62.5-87.5", "75", "2.67x", "v1"]


def test_compare_prints_one_report(capsys):
    summaries = harness.compare("T", "steps", [Logged("a", []), Logged("b", [], 2.0)], 2, 0.0)
    assert [s.median for s in summaries] == [0.5, 1.0]
    out = capsys.readouterr().out
    assert out.startswith("== T\nmachine: ") and "0.50x" in out


def test_a_worker_serves_rounds_from_another_process():
    script = ("from benchmarks import harness; print('chatter');"
              "harness.serve([harness.Timed('w', lambda: 3.0, 'a note')])")
    worker = harness.Worker([sys.executable, "-c", script], cwd=str(REPO))
    (remote,) = worker.contenders
    assert (remote.name, remote.note) == ("w", "a note")
    remote.warm_up()
    assert remote.run_round(0.0).units == 3.0
    worker.close()


def test_a_missing_peer_is_a_note(capsys):
    assert harness.start_worker("Peer", "/no/such/python", "m", {}, "make it so") is None
    out = capsys.readouterr().out
    assert out == ("note: Peer unavailable: no interpreter at /no/such/python (make it so); "
                   "measuring ours only.\n")


def test_a_failing_worker_is_a_note_with_its_last_error_line(capsys):
    assert harness.start_worker("Peer", sys.executable, "benchmarks.no_such_worker", {},
                                "") is None
    out = capsys.readouterr().out
    assert out.startswith("note: Peer unavailable: the worker stopped (exit status 1): ")
    assert "No module named benchmarks.no_such_worker" in out


def test_flag_checks_name_the_flag():
    assert harness.positive_ints("sizes", ["1", "20"]) == [1, 20]
    for values in (["1", "x"], ["0"], []):
        with pytest.raises(harness.FlagError, match="--sizes"):
            harness.positive_ints("sizes", values)
    harness.check_choices("methods", ["a"], ["a", "b"])
    for values in (["c"], []):
        with pytest.raises(harness.FlagError, match="--methods"):
            harness.check_choices("methods", values, ["a", "b"])
