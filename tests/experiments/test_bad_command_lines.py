"""Bad command lines of every experiment binary: exit status 1, one line on stderr naming the
flag or file, nothing written, no traceback.

The tables run in one interpreter per binary (`command_lines.py`, through `common.run_in_process`,
what `python -m` runs after absl's setup); a few cases also go through a real `python -m` to
cover `common.run_main` itself, and `--help` is checked to list every flag of the `gn_*` demos.
"""

import dataclasses
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from bad.hanabi import learner as hanabi_learner
from bad.hanabi.agent import AgentConfig
from experiments import checkpoints
from games.hanabi.config import make_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DRIVER = os.path.join(ROOT, "tests", "experiments", "command_lines.py")
ENV = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": ROOT}

GN_SHARED = [
    (["--batch_size_train=0"], ["--batch_size_train must be positive"]),
    (["--num_iterations=-3"], ["--num_iterations must be positive"]),
    (["--checkpoint_every=0"], ["--checkpoint_every must be positive"]),
    (["--final_learning_rate_fraction=1.5"], ["--final_learning_rate_fraction"]),
    (["--seed=-1"], ["--seed must be in"]),
    (["--seed=2147483648"], ["--seed must be in"]),
    (["--learning_rate=inf"], ["--learning_rate must be a finite number"]),
    (["--learning_rate=nan"], ["--learning_rate must be a finite number"]),
    (["--aggregation=median"], ["--aggregation", "max|mean|sum"]),
    (["--latent_size=1.5"], ["--latent_size"]),
    (["--no_such_flag=1"], ["no_such_flag"]),
    (["stray"], ["unexpected positional arguments", "stray"]),
    (["--output_dir="], ["--output_dir"]),
    (["--output_dir={blocker}/out"], ["--output_dir", "cannot be written"]),
    # Multi-process flags (experiments.distributed), refused before the process joins a run.
    (["--num_processes=2"], ["--coordinator_address, --process_id missing"]),
    (["--coordinator_address=127.0.0.1:1", "--num_processes=2", "--process_id=2"],
     ["--process_id must be in [0, 1]"]),
    (["--coordinator_address=localhost", "--num_processes=2", "--process_id=1"],
     ["--coordinator_address must be HOST:PORT"]),
    (["--coordinator_address=127.0.0.1:1", "--num_processes=0", "--process_id=0"],
     ["--num_processes must be positive"]),
]
TINY_HANABI = ["--method=bad", "--preset=very_small", "--num_envs=8", "--rollout_length=4",
               "--num_minibatches=2", "--hidden_sizes=16", "--updates_per_log=2", "--seed=3",
               "--final_learning_rate_fraction=0.5", "--final_entropy_fraction=0.2"]
IPPO = TINY_HANABI + ["--method=ippo"]
EVALUATE = ["--preset=very_small", "--num_games=2"]

CASES = {
    "gn_shortest_path": GN_SHARED + [
        (["--min_nodes_train=9", "--max_nodes_train=4"], ["--min_nodes_train (9)"]),
        (["--min_nodes_test=1"], ["--min_nodes_test must be at least 2"]),
        (["--theta=0"], ["--theta must be positive"]),
        (["--num_processing_steps_test=0"], ["--num_processing_steps_test must be positive"]),
        (["--theta=-inf"], ["--theta must be a finite number"]),
    ],
    "gn_sort": GN_SHARED + [
        (["--min_nodes_test=0"], ["--min_nodes_test must be at least 1"]),
        (["--max_nodes_train=x"], ["--max_nodes_train"]),
    ],
    "gn_physics": GN_SHARED + [
        (["--min_masses_train=6", "--max_masses_train=5"], ["--min_masses_train (6)"]),
        (["--min_masses_train=2"], ["--min_masses_train must be at least 3"]),
        (["--test_masses=4,x"], ["--test_masses must be integers"]),
        (["--test_masses=4,4"], ["--test_masses lists 4 twice"]),
        (["--test_masses=2"], ["--test_masses must be at least 3"]),
        (["--max_rest_length=nan"], ["--max_rest_length must be a finite number"]),
        (["--max_rest_length=1e300"], ["--max_rest_length must be at most"]),
        (["--min_rest_length=0"], ["--min_rest_length must be positive"]),
        (["--min_rest_length=2"], ["--min_rest_length (2.0) is above --max_rest_length"]),
        (["--rollout_steps=0"], ["--rollout_steps must be positive"]),
    ],
    "rn_sort_of_clevr": GN_SHARED + [
        (["--min_distance=-0.1"], ["--min_distance must be at least 0"]),
        (["--min_distance=0.3"], ["--min_distance must be at most 0.25"]),
        (["--min_distance=nan"], ["--min_distance must be a finite number"]),
        (["--num_processing_steps=2"], ["num_processing_steps"]),
    ],
    "bad_matrix_game": [
        (["--methods=bad_cf,sad"], ["--methods must be"]),
        (["--methods="], ["--methods must be"]),
        (["--methods=bad_cf,bad_cf"], ["--methods lists bad_cf twice"]),
        (["--num_seeds=0"], ["--num_seeds must be positive"]),
        (["--num_seeds=abc"], ["--num_seeds"]),
        (["--num_players=3"], ["needs a payoff parameter of 216"]),
        (["--num_updates=100", "--eval_every=30"], ["must divide"]),
        (["--seed=-1"], ["--seed must be in"]),
        (["--learning_rate=inf"], ["--learning_rate must be a finite number"]),
        (["--entropy_cost=nan"], ["--entropy_cost must be a finite number"]),
        (["--learning_rate_end=-1"], ["learning_rate_end must be non-negative"]),
        (["--baseline=shared"], ["--baseline"]),
        (["stray"], ["unexpected positional arguments"]),
    ],
    "bad_hanabi": [
        *[(TINY_HANABI + [flag], []) for flag in [
            "--num_envs=0", "--players=9", "--preset=huge", "--learning_rate=-1",
            "--hidden_sizes=a", "--final_entropy_fraction=1.5", "--v2_alpha=2",
            "--likelihood_samples=0", "--eval_likelihood_samples=-1", "--num_minibatches=3"]],
        *[(IPPO + [flag], [flag.split("=")[0]]) for flag in [
            "--v2_alpha=0.1", "--likelihood_samples=4", "--eval_likelihood_samples=4",
            "--exact_belief", "--eval_exact_belief"]],
        (TINY_HANABI + ["--exact_belief", "--preset=small", "--players=3"], ["2 players"]),
        (TINY_HANABI + ["--exact_belief", "--likelihood_samples=2"], ["likelihood_samples"]),
        (TINY_HANABI + ["--eval_exact_belief", "--eval_likelihood_samples=2"],
         ["--eval_exact_belief"]),
        (TINY_HANABI + ["--seed=-1"], ["--seed must be in"]),
        (TINY_HANABI + ["--seed=2147483648"], ["--seed must be in"]),
        (TINY_HANABI + ["--learning_rate=inf"], ["--learning_rate must be a finite number"]),
        (TINY_HANABI + ["--discount=nan"], ["--discount must be a finite number"]),
        (TINY_HANABI + ["--method=sad"], ["--method", "bad|ippo"]),
        (TINY_HANABI + ["--num_envs=1.5"], ["--num_envs"]),
        (TINY_HANABI + ["--bogus"], ["bogus"]),
        (TINY_HANABI + ["stray"], ["unexpected positional arguments"]),
        (TINY_HANABI + ["--checkpoint_every=-1"], ["--checkpoint_every must be at least 0"]),
        (TINY_HANABI + ["--output_dir="], ["--output_dir is required"]),
        (TINY_HANABI + ["--process_id=1"], ["--coordinator_address, --num_processes missing"]),
        (TINY_HANABI + ["--coordinator_address=[::1]:9", "--num_processes=2", "--process_id=-1"],
         ["--process_id must be in [0, 1]"]),
        (TINY_HANABI + ["--coordinator_address=127.0.0.1:70000", "--num_processes=2",
                        "--process_id=1"], ["port in 1-65535"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/no_seed.npz", "--coordinator_address=h:1",
                     "--num_processes=2", "--process_id=1"], ["runs in one process"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/missing.npz"], ["does not exist"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/truncated.npz"], ["not a readable"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/foreign.npz"], ["not a readable"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/pickled.npz"], ["as a pickle"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/random.npz"], ["not a readable .npz"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/list_config.npz"], ["a JSON list"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/bad_json.npz"], ["not valid JSON"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/old_format.npz"], ["format version 1"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/gn_demo.npz"], ["not written by bad_hanabi"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/no_train.npz"], ["train=None"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/no_method.npz"],
         ["lacks the setting train.agent.method"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/envs_as_text.npz"], ["train.num_envs='8'"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/refused.npz"], ["TrainConfig refuses"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/three_players.npz"], ["trained on"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/no_seed.npz"], ["seed=None"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/seed_as_text.npz"], ["seed='3'"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/no_seed.npz", "--num_games=0"],
         ["--num_games must be positive"]),
        (EVALUATE + ["--evaluate_checkpoint={ck}/no_seed.npz", "--seed=-2"], ["--seed"]),
    ],
    "demo": [
        (["stray"], ["unexpected positional arguments"]),
        (["--bogus"], ["bogus"]),
        (["--output_dir={blocker}/out"], ["cannot be written"]),
    ],
}
TABLE = [(binary, index) for binary, cases in CASES.items() for index in range(len(cases))]
# Also run in each table's interpreter: `--help` must list every flag, shared ones included.
HELP = {"gn_shortest_path": ["--theta", "--min_nodes_train"],
        "gn_sort": ["--min_nodes_test", "--num_processing_steps_test"],
        "gn_physics": ["--test_masses", "--max_rest_length"],
        "rn_sort_of_clevr": ["--min_distance"]}
SHARED_FLAGS = ["--num_iterations", "--learning_rate", "--aggregation", "--seed", "--output_dir",
                "--checkpoint_every"]


def hanabi_config(**train_changes) -> dict:
    """A bad_hanabi checkpoint config (as `checkpoint_config` writes it) with changes."""
    train = dataclasses.asdict(hanabi_learner.TrainConfig(
        agent=AgentConfig(make_config("very_small"), hidden_sizes=(16,)), num_envs=8,
        rollout_length=4, num_minibatches=2))
    return {"format_version": checkpoints.FORMAT_VERSION, "experiment": "bad_hanabi",
            "train": {**train, **train_changes}, "seed": 3, "updates_per_log": 2}


def write_damaged_checkpoints(directory) -> None:
    """Every kind of bad checkpoint the evaluation cases above name."""
    def config_file(name, config, leaves=()):
        checkpoints.save_checkpoint(str(directory / f"{name}.npz"), list(leaves), config)

    valid = hanabi_config()
    no_method = hanabi_config()
    del no_method["train"]["agent"]["method"]
    three = hanabi_config()
    three["train"]["agent"]["game"] = dict(three["train"]["agent"]["game"], players=3)
    config_file("no_method", no_method)
    config_file("three_players", three)
    config_file("envs_as_text", hanabi_config(num_envs="8"))
    config_file("refused", hanabi_config(num_minibatches=3))
    config_file("no_train", {k: v for k, v in valid.items() if k != "train"})
    config_file("no_seed", {k: v for k, v in valid.items() if k != "seed"})
    config_file("seed_as_text", {**valid, "seed": "3"})
    config_file("gn_demo", {"format_version": checkpoints.FORMAT_VERSION, "demo": "sort"})
    config_file("list_config", [1, 2])
    np.savez(directory / "old_format.npz", config=np.asarray(json.dumps(
        {k: v for k, v in valid.items() if k != "format_version"})), num_leaves=np.asarray(0))
    np.savez(directory / "bad_json.npz", config=np.asarray("{"), num_leaves=np.asarray(0))
    np.savez(directory / "foreign.npz", weights=np.zeros(3))
    np.savez(directory / "truncated.npz", config=np.asarray("{}"), num_leaves=np.asarray(0))
    truncated = directory / "truncated.npz"
    truncated.write_bytes(truncated.read_bytes()[:40])
    (directory / "pickled.npz").write_bytes(pickle.dumps(valid))
    (directory / "random.npz").write_bytes(np.random.default_rng(0).bytes(4096))


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A directory with the damaged checkpoints and a file where a directory is expected."""
    root = tmp_path_factory.mktemp("command_lines")
    (root / "checkpoints").mkdir()
    write_damaged_checkpoints(root / "checkpoints")
    (root / "blocker").write_text("keep me")
    return root


def case_arguments(workspace, binary: str, index: int) -> tuple[list[str], str]:
    """The case's arguments with paths filled in (an --output_dir of its own unless given)."""
    args, _ = CASES[binary][index]
    args = [arg.format(ck=workspace / "checkpoints", blocker=workspace / "blocker")
            for arg in args]
    output_dir = str(workspace / "out" / f"{binary}-{index}")
    if not any(arg.startswith("--output_dir") for arg in args):
        args.append(f"--output_dir={output_dir}")
    return args, output_dir


@pytest.fixture(scope="module")
def outcomes(workspace):
    """`outcome(binary, index)`: the case's result; each binary's table runs once, on demand."""
    done = {}

    def outcome(binary: str, index: int) -> dict:
        if binary not in done:
            cases = [case_arguments(workspace, binary, i)[0] for i in range(len(CASES[binary]))]
            cases += [["--help"]] if binary in HELP else []
            result = subprocess.run([sys.executable, DRIVER, f"experiments.{binary}"],
                                    input=json.dumps(cases), capture_output=True, text=True,
                                    cwd=ROOT, env=ENV, timeout=600, check=False)
            assert result.returncode == 0, result.stderr[-3000:]
            done[binary] = json.loads(result.stdout)
        return done[binary][index]

    return outcome


def assert_one_line_error(status: int, stderr: str, words) -> None:
    lines = stderr.strip().splitlines()
    assert status == 1, stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for word in words:
        assert word in lines[0], lines[0]


@pytest.mark.parametrize("binary, index", TABLE,
                         ids=[f"{b}:{' '.join(CASES[b][i][0])[-60:]}" for b, i in TABLE])
def test_bad_command_line(outcomes, workspace, binary, index):
    result = outcomes(binary, index)
    assert result["traceback"] is None, result["traceback"]
    assert_one_line_error(result["status"], result["stderr"], CASES[binary][index][1])
    _, output_dir = case_arguments(workspace, binary, index)
    assert not os.path.exists(output_dir)
    assert (workspace / "blocker").read_text() == "keep me"


def python_m(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True,
                          cwd=ROOT, env=ENV, timeout=600, check=False)


@pytest.mark.parametrize("args, words", [
    (["experiments.gn_physics", "--max_rest_length=nan"], ["--max_rest_length"]),
    (["experiments.gn_sort", "stray"], ["unexpected positional arguments 'stray'"]),
    (["experiments.bad_hanabi", "--seed=-1"], ["--seed must be in"]),
])
def test_python_m_reports_one_line(args, words, tmp_path):
    result = python_m(*args, f"--output_dir={tmp_path / 'out'}")
    assert_one_line_error(result.returncode, result.stderr, words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("demo", sorted(HELP))
def test_help_lists_every_flag_of_a_gn_demo(outcomes, demo):
    result = outcomes(demo, len(CASES[demo]))
    for flag in HELP[demo] + SHARED_FLAGS:
        assert f"  {flag}:" in result["stdout"], (flag, result["stdout"])


def test_python_m_help_lists_the_shared_flags():
    result = python_m("experiments.gn_shortest_path", "--help")
    for flag in HELP["gn_shortest_path"] + SHARED_FLAGS:
        assert f"  {flag}:" in result.stdout, (flag, result.stdout)


def test_demo_reports_a_failing_child_in_one_line(tmp_path):
    script = ("from experiments import common, demo\n"
              "common.run_in_process(lambda argv: demo._run_binary("
              f"'experiments.gn_sort', {str(tmp_path / 'out')!r}, ['--seed=-1']), ['demo'])\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=ROOT, env=ENV, timeout=600, check=False)
    assert_one_line_error(result.returncode, result.stderr,
                          ["experiments.gn_sort failed with exit status 1", "--seed must be in"])
