"""experiments.hanabi_curves: scores at given steps against hand-computed references, the files
it writes, and its one-line refusals (all in one interpreter through `command_lines.py`: the
binary's flags would clash with other binaries' imported into the test process)."""

import csv
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER = os.path.join(ROOT, "tests", "experiments", "command_lines.py")
REFUSALS = [
    ([], "--runs must name at least one run folder"),
    (["--runs={a},{a}"], "--runs"),
    (["--runs={a}", "--labels=x,y"], "--labels must give one label per run"),
    (["--runs={missing}"], "has no metrics.csv"),
    (["--runs={a}", "--at_millions=five"], "--at_millions must be numbers"),
    (["--runs={a}", "--at_millions=0"], "--at_millions must be positive"),
    (["--runs={a}", "--window_millions=-1"], "--window_millions must be positive"),
    (["--runs={broken}"], "results.json is not a run's results"),
]


def _write_run(folder, steps, scores, games) -> str:
    os.makedirs(folder)
    with open(os.path.join(folder, "metrics.csv"), "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["env_steps", "updates", "mean_score", "games_finished"])
        for step, score, game in zip(steps, scores, games):
            writer.writerow([step, step // 100, score, game])
    return str(folder)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """The runs, the output folders and `command_lines.py`'s result of every case."""
    tmp = tmp_path_factory.mktemp("curves")
    # A: the chunks of (1M, 3M] average (3 * 30 + 5 * 10) / 40 = 3.5; the chunk at 4M finished no
    # game, so a window of 0.5M there has no score.
    first = _write_run(tmp / "a", [1e6, 2e6, 3e6, 4e6], [1.0, 3.0, 5.0, 9.0], [5, 30, 10, 0])
    second = _write_run(tmp / "b", [1e6, 2e6], [2.0, 4.0], [5, 5])
    # B has finished: its results.json holds the final evaluation (an IPPO agent: no BB).
    with open(tmp / "b" / "results.json", "w") as handle:
        json.dump({"env_steps": 2_000_000, "open_spiel_evaluation": {
            "mean_score": 4.25, "score_stderr": 0.125, "perfect_fraction": 0.015,
            "num_games": 1000, "cross_entropy_v0": 2.5, "cross_entropy_v1": 2.25,
            "policy": "greedy"}}, handle)
    broken = _write_run(tmp / "broken", [1e6], [1.0], [1])
    (tmp / "broken" / "results.json").write_text("{")
    cases = [[*(arg.format(a=first, missing=tmp / "nothing", broken=broken) for arg in args),
              f"--output_dir={tmp / f'refused{index}'}"]
             for index, (args, _) in enumerate(REFUSALS)]
    cases += [[f"--runs={first},{second}", "--labels=A,B", "--at_millions=1,3",
               "--window_millions=2", f"--output_dir={tmp / 'out'}"],
              [f"--runs={first}", "--at_millions=4", "--window_millions=0.5",
               f"--output_dir={tmp / 'late'}"]]
    done = subprocess.run([sys.executable, DRIVER, "experiments.hanabi_curves"],
                          input=json.dumps(cases), capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": ROOT},
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return tmp, json.loads(done.stdout)


def test_table_weights_chunks_by_their_games_and_writes_csv_and_plot(results):
    tmp, outcomes = results
    table = (tmp / "out" / "curves.md").read_text()
    assert table.splitlines() == ["| run | steps reached | 1M | 3M |", "|---|---|---|---|",
                                  "| A | 4.0M | 1.0 | 3.5 |", "| B | 2.0M | 2.0 | - |"]
    assert outcomes[-2]["status"] == 0 and table.strip() in outcomes[-2]["stdout"]
    with open(tmp / "out" / "curves.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["run"] for row in rows] == ["A", "B"] and float(rows[0]["3M"]) == 3.5
    assert (tmp / "out" / "curves.png").read_bytes()[:4] == b"\x89PNG"
    # Label by default: the folder's name; no game finished in the window: no score.
    assert (tmp / "late" / "curves.md").read_text().splitlines()[2] == "| a | 4.0M | - |"
    # Only the finished run has an evaluation row; a run without any gets no evaluations.md.
    evaluations = (tmp / "out" / "evaluations.md").read_text().splitlines()
    assert evaluations[2:] == ["| B | 2.0M | 4.25 +- 0.12 | 1.5% | 2.500 / 2.250 / - | greedy | "
                               "1,000 |"]
    assert evaluations[0] in outcomes[-2]["stdout"] and not (tmp / "late" / "evaluations.md"
                                                             ).exists()


@pytest.mark.parametrize("index", range(len(REFUSALS)))
def test_refusals_are_one_line_before_any_output(results, index):
    tmp, outcomes = results
    outcome, message = outcomes[index], REFUSALS[index][1]
    assert outcome["status"] == 1 and outcome["traceback"] is None
    err = outcome["stderr"].strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp / f"refused{index}").exists()
