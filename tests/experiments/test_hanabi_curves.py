"""experiments.hanabi_curves: scores at given steps against a hand-computed reference, the files
it writes, and its one-line refusals."""

import csv
import os

import numpy as np
import pytest

from experiments import common, hanabi_curves


def _run(args):
    try:
        common.run_in_process(hanabi_curves.main, ["hanabi_curves", *args])
    except SystemExit as exit_:
        return exit_.code
    return 0


def _write_run(folder, steps, scores, games) -> str:
    os.makedirs(folder)
    with open(os.path.join(folder, "metrics.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["env_steps", "updates", "mean_score", "games_finished"])
        for step, score, game in zip(steps, scores, games):
            writer.writerow([step, step // 100, score, game])
    return str(folder)


def test_score_at_weights_the_chunks_of_the_window_by_their_games():
    steps = np.array([1e6, 2e6, 3e6, 4e6])
    scores = np.array([1.0, 2.0, 4.0, 8.0])
    games = np.array([10.0, 30.0, 10.0, 0.0])
    # (1M, 3M]: chunks at 2M and 3M, (2 * 30 + 4 * 10) / 40.
    assert hanabi_curves.score_at(steps, scores, games, 3e6, 2e6) == pytest.approx(2.5)
    assert hanabi_curves.score_at(steps, scores, games, 1e6, 0.5e6) == pytest.approx(1.0)
    assert hanabi_curves.score_at(steps, scores, games, 5e6, 1e6) is None  # not reached
    assert hanabi_curves.score_at(steps, scores, games, 4e6, 0.5e6) is None  # no game finished


def test_table_csv_and_plot(tmp_path, capsys):
    first = _write_run(tmp_path / "a", [1e6, 2e6, 3e6], [1.0, 3.0, 5.0], [5, 5, 5])
    second = _write_run(tmp_path / "b", [1e6, 2e6], [2.0, 4.0], [5, 5])
    out = tmp_path / "out"
    assert _run([f"--runs={first},{second}", "--labels=A,B", "--at_millions=1,3",
                 "--window_millions=1", f"--output_dir={out}"]) == 0
    table = (out / "curves.md").read_text()
    assert table.splitlines() == ["| run | steps reached | 1M | 3M |", "|---|---|---|---|",
                                  "| A | 3.0M | 1.0 | 5.0 |", "| B | 2.0M | 2.0 | - |"]
    assert table.strip() in capsys.readouterr().out
    with open(out / "curves.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["run"] for row in rows] == ["A", "B"] and float(rows[0]["3M"]) == 5.0
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, message", [
    ([], "--runs must name at least one run folder"),
    (["--runs={a},{a}"], "--runs"),
    (["--runs={a}", "--labels=x,y"], "--labels must give one label per run"),
    (["--runs={missing}"], "has no metrics.csv"),
    (["--runs={a}", "--at_millions=five"], "--at_millions must be numbers"),
    (["--runs={a}", "--at_millions=0"], "--at_millions must be positive"),
    (["--runs={a}", "--window_millions=-1"], "--window_millions must be positive"),
])
def test_refusals_are_one_line(tmp_path, capsys, args, message):
    run = _write_run(tmp_path / "a", [1e6], [1.0], [1])
    args = [arg.format(a=run, missing=tmp_path / "nothing") for arg in args]
    assert _run([*args, f"--output_dir={tmp_path / 'out'}"]) == 1
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
