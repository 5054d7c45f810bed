"""benchmarks.bad_hanabi_throughput: a tiny interleaved measurement, one-line bad-flag errors."""

import pytest

MODULE = "benchmarks.bad_hanabi_throughput"
TINY = ["--preset=very_small", "--num_envs=4", "--rollout_length=2", "--hidden_sizes=8",
        "--updates=1", "--rounds=2", "--min_round_seconds=0", "--likelihood_samples=2"]


def test_measures_both_methods_with_the_learner_flags(run_benchmark, read_reports):
    result = run_benchmark(MODULE, *TINY, "--num_epochs=3", "--num_minibatches=8")
    assert result.returncode == 0, result.stderr
    (report,) = read_reports(result.stdout)
    assert "preset very_small, 2 players, 4 games, 1 updates of 8 steps" in report["title"]
    assert "2 rounds" in report["protocol"]
    assert list(report["rows"]) == ["ippo", "bad"]
    assert all(float(cells[0].replace(",", "")) > 0 for cells in report["rows"].values())
    assert report["rows"]["ippo"][4] == "1.00x"


@pytest.mark.slow  # compiles a 3-player learner (about 20 s); --players=6 is refused below
def test_players_overrides_the_presets(run_benchmark, read_reports):
    result = run_benchmark(MODULE, *TINY, "--players=3", "--methods=bad")
    assert result.returncode == 0, result.stderr
    (report,) = read_reports(result.stdout)
    assert "preset very_small, 3 players, 4 games, 1 updates of 8 steps" in report["title"]


@pytest.mark.parametrize("flag, word", [("--num_minibatches=3", "num_minibatches (3)"),
                                        ("--num_epochs=0", "num_epochs"),
                                        ("--methods=bad,dqn", "--methods"),
                                        ("--hidden_sizes=8,0", "--hidden_sizes"),
                                        ("--preset=huge", "huge"),
                                        ("--players=6", "players"),
                                        ("--rounds=0", "--rounds"),
                                        ("--min_round_seconds=-1", "--min_round_seconds")])
def test_bad_flags_give_one_line(run_benchmark, assert_one_line_error, flag, word):
    assert_one_line_error(run_benchmark(MODULE, *TINY, flag), word)


def test_helpfull_lists_the_flags(assert_helpfull_lists):
    assert_helpfull_lists(MODULE, "--num_envs", "--min_round_seconds")


@pytest.mark.slow  # compiles several more functions (20-40 s); the timed update is tested above
def test_parts_time_the_update_halves_and_the_pieces_of_a_move(run_benchmark, read_reports):
    result = run_benchmark(MODULE, *TINY, "--methods=bad", "--parts")
    assert result.returncode == 0, result.stderr
    halves, pieces = read_reports(result.stdout)
    assert list(halves["rows"]) == ["rollout", "learn"]
    assert list(pieces["rows"]) == ["observation", "public context", "decide", "observe",
                                    "critic (+ its view)", "environment step"]
    assert all(float(cells[0].replace(",", "")) > 0 for report in (halves, pieces)
               for cells in report["rows"].values())


@pytest.mark.slow  # compiles several more functions (20-40 s); the timed update is tested above
def test_cost_prints_flops_per_step_of_both_halves_and_the_floor(run_benchmark, read_reports):
    result = run_benchmark(MODULE, *TINY, "--methods=bad", "--cost")
    assert result.returncode == 0, result.stderr
    assert "one move of 4 games (x2 per update)" in result.stdout
    assert "one PPO minibatch step (x8 per update)" in result.stdout
    assert "MFLOP/step  f32[" in result.stdout
    (matmul,) = read_reports(result.stdout)
    assert list(matmul["rows"]) == ["matmul"]
    assert "the floor is" in result.stdout.splitlines()[-1]


def test_cost_refuses_games_that_minibatches_do_not_divide(run_benchmark, assert_one_line_error):
    assert_one_line_error(run_benchmark(MODULE, *TINY, "--cost", "--num_minibatches=8"),
                          "--num_envs")


@pytest.mark.slow  # compiles several more functions (20-40 s); xla_profile's parsing is tested fast
def test_profile_names_the_top_ops_of_each_half(run_benchmark):
    result = run_benchmark(MODULE, *TINY, "--methods=bad", "--profile")
    assert result.returncode == 0, result.stderr
    for half in ("rollout", "learn", "observe_batch"):
        assert f"\n{half}: bad on preset very_small, 2 players, 4 games" in result.stdout
    assert result.stdout.count("ms/call   share   runs  result shape") == 3
    assert "%" in result.stdout and "f32[" in result.stdout
