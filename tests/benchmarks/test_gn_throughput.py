"""benchmarks.gn_throughput: tiny interleaved tables, the jraph agreement check, bad flags."""

import pytest

MODULE = "benchmarks.gn_throughput"
TINY = ["--num_graphs=2", "--num_nodes=10", "--num_edges=0", "--features=4", "--hidden=4",
        "--small_graphs=2", "--rounds=2", "--min_round_seconds=0", "--torch_python=/no/python"]


@pytest.mark.slow  # times both libraries (about 40 s); the cost breakdown below covers our step
def test_times_ours_and_jraph_and_says_pyg_is_missing(run_benchmark, read_reports):
    result = run_benchmark(MODULE, *TINY)
    assert result.returncode == 0, result.stderr
    assert "note: PyG unavailable: no interpreter at /no/python" in result.stdout
    large, small = read_reports(result.stdout)
    assert list(large["rows"]) == ["graphnets.GraphNetwork", "jraph.GraphNetwork"]
    assert "2 graphs, 10 nodes, 0 edges, 4 features" in large["title"]
    assert all(cells[-1].endswith("MiB XLA buffers") for cells in large["rows"].values())
    assert len(small["rows"]) == 3
    check = [line for line in result.stdout.splitlines() if line.startswith("check: ")]
    assert len(check) == 1 and "(within float32 tolerance" in check[0], check


def test_cost_prints_the_parts_of_our_step_and_its_floor(run_benchmark, read_reports):
    result = run_benchmark(MODULE, *TINY, "--num_edges=20", "--cost")
    assert result.returncode == 0, result.stderr
    step, matmul, stream = read_reports(result.stdout)
    assert list(step["rows"]) == ["graphnets.GraphNetwork"]
    assert (list(matmul["rows"]), list(stream["rows"])) == (["matmul"], ["stream"])
    assert "MB     gather f32[20," in result.stdout and "MB     scatter f32[20," in result.stdout
    for part in ("matrix products (MLPs)", "gathers", "scatters", "Adam"):
        assert f"  {part} " in result.stdout
    assert result.stdout.splitlines()[-1].startswith("floor (gathers and scatters")


@pytest.mark.parametrize("flag, word", [("--num_nodes=1", "--num_nodes"),
                                        ("--num_edges=-1", "--num_edges"),
                                        ("--hidden=0", "--hidden")])
def test_bad_flags_give_one_line(run_benchmark, assert_one_line_error, flag, word):
    assert_one_line_error(run_benchmark(MODULE, *TINY, flag), word)


def test_helpfull_lists_the_flags(assert_helpfull_lists):
    assert_helpfull_lists(MODULE, "--torch_python", "--min_round_seconds")
