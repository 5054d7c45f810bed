"""experiments.hanabi_replay and experiments.hanabi_play: the page, the records, the refusals, a
person's game in a pseudo-terminal, and (slow) the page in a real headless browser."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pexpect
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER = os.path.join(ROOT, "tests", "experiments", "command_lines.py")
ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": ROOT}
REFUSALS = [
    (["--games=0"], "--games must be positive"),
    (["--seed=-1"], "--seed must be in"),
    (["--agents=no_such_agent.npz"], "no_such_agent.npz"),
    (["--agents="], "--agents must name at least one agent"),
    (["--agents=very_small,very_small,very_small"], "must name 1 or 2 agents"),
    (["--agents=very_small,small"], "must all play one game"),
]


def run_cases(binary: str, cases: list[list[str]]) -> list[dict]:
    """`command_lines.py`'s results of `cases` of `experiments.<binary>`, in one interpreter."""
    result = subprocess.run([sys.executable, DRIVER, f"experiments.{binary}"],
                            input=json.dumps(cases), capture_output=True, text=True, cwd=ROOT,
                            env=ENV, timeout=600)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_replay_writes_one_self_contained_page_and_the_records(tmp_path):
    out = [str(tmp_path / f"out{index}") for index in range(len(REFUSALS) + 2)]
    cases = [[*args, f"--output_dir={out[index]}"] for index, (args, _) in enumerate(REFUSALS)]
    cases += [["--agents=very_small", "--seed=5", "--games=2", f"--output_dir={out[-2]}"],
              ["--agents=very_small", "--seed=5", f"--output_dir={out[-1]}"]]
    results = run_cases("hanabi_replay", cases)
    for index, (_, message) in enumerate(REFUSALS):
        assert results[index]["status"] == 1 and results[index]["traceback"] is None
        err = results[index]["stderr"]
        assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
        assert not os.path.exists(out[index])
    assert [r["status"] for r in results[-2:]] == [0, 0], results[-2:]
    page = pathlib.Path(os.path.join(out[-2], "replay.html")).read_text()
    # One file: nothing fetched (no URL, no src or href attribute), script and style inline.
    assert not re.search(r"https?://|\bsrc=|\bhref=|@import", page)
    assert "<script>" in page and "<style>" in page
    replays = json.loads(pathlib.Path(os.path.join(out[-2], "replays.json")).read_text())
    assert len(replays["records"]) == 2 and replays["seed"] == 5
    first = replays["records"][0]
    assert json.dumps(first, separators=(",", ":")).replace("</", "<\\/") in page
    assert f"scores [{first['score']}, {replays['records'][1]['score']}]" in results[-2]["stdout"]
    # Same seed, same game; one game writes no replays.json.
    assert pathlib.Path(os.path.join(out[-1], "replay.html")).read_text() == page
    assert not os.path.exists(os.path.join(out[-1], "replays.json"))


def _spawn(tmp_path, seed: int) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "experiments.hanabi_play", "--agents=very_small",
                                          "--seat=0", f"--seed={seed}",
                                          f"--output_dir={tmp_path / 'play'}"],
                         cwd=ROOT, env=ENV, encoding="utf-8", timeout=120)


def test_a_person_plays_in_a_terminal_bad_input_good_move_end_of_input(tmp_path):
    child = _spawn(tmp_path, seed=0)
    child.expect(r"P1 \(very_small\): 0:R\d\[")  # the partner's cards are shown
    child.expect("your move")
    for typed, answer in (("abc", "is not a number"), ("99", "there is no move 99"),
                          ("0", "is not legal now"), ("", "is not a number")):
        child.sendline(typed)
        child.expect(answer)
        child.expect("your move")
    child.sendline("4")  # a color hint: legal at the start, and the game goes on
    child.expect("move 1: P0 tells P1 color R")
    child.expect(r"move 2: P1 .*\(top moves: .*%")
    child.expect("your move")
    child.sendeof()
    child.expect("end of input: game abandoned.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert "Traceback" not in child.before
    assert not os.path.exists(tmp_path / "play" / "replay.html")


def test_a_person_plays_to_the_end_and_gets_the_score_and_the_page(tmp_path):
    child = _spawn(tmp_path, seed=1)
    while child.expect([r"\n +(\d+)  P0 ", r"final score (\d+)/5"]) == 0:
        move = child.match.group(1)  # the first legal move listed
        child.expect("your move")
        child.sendline(move)
    score = int(child.match.group(1))
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and 0 <= score <= 5
    assert os.path.getsize(tmp_path / "play" / "replay.html") > 0


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed: "
                    "`make browser` installs it.")
def test_the_page_runs_in_a_headless_browser(tmp_path):
    """The page loads with no script error, steps to the last move and shows the final score;
    a screenshot of it is taken."""
    out = tmp_path / "replay"
    [result] = run_cases("hanabi_replay", [["--agents=small", "--seed=0", f"--output_dir={out}"]])
    assert result["status"] == 0, result
    page = out / "replay.html"
    record = json.loads(re.search(r'id="record">(.*?)</script>', page.read_text())
                        .group(1).replace("<\\/", "</"))["records"][0]
    browser = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run([*browser, "--enable-logging=stderr", "--v=0", "--dump-dom",
                          f"file://{page}#last"], capture_output=True, text=True, timeout=120)
    moves = len(record["steps"])
    status = re.search(r'id="status">([^<]*)<', dom.stdout).group(1)
    assert status == (f"ok: {moves}/{moves} moves played, score {record['score']}, "
                      f"final score {record['score']}")
    assert f"final score {record['score']}/{record['max_score']}" in dom.stdout
    assert "Uncaught" not in dom.stderr
    shot = tmp_path / "replay.png"
    subprocess.run([*browser, "--window-size=1100,900", f"--screenshot={shot}",
                    f"file://{page}#{moves // 2}"], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_replay_of_the_pretrained_three_player_agent(tmp_path):
    """`full_3p` in every seat: three seats recorded, a game of the Full deck well above
    Rainbow's 3-player 18.71 (the agent scores 22.36 on average)."""
    [result] = run_cases("hanabi_replay", [["--agents=full_3p", "--seed=0", "--games=2",
                                            f"--output_dir={tmp_path}"]])
    assert result["status"] == 0, result
    records = json.loads((tmp_path / "replays.json").read_text())["records"]
    assert [len(record["seats"]) for record in records] == [3, 3]
    assert all(record["max_score"] == 25 and record["score"] >= 15 for record in records)
