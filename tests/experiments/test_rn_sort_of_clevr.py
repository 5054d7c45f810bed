"""experiments.rn_sort_of_clevr end to end with tiny flags: files, parameter budgets, exact resume.

Bad command lines are in test_bad_command_lines.py.
"""

import os

import pytest
from test_gn_demo_binaries import (
    damage_a_checkpointed_row,
    flag_list,
    headline,
    kill_at_first_checkpoint,
    read,
    run,
)

TINY = dict(num_iterations=12, batch_size_train=8, batch_size_test=16, num_eval_graphs=40,
            latent_size=16, num_layers=1, log_every=3, checkpoint_every=3)
TINY_FLAGS = flag_list(TINY)
DEMO = "rn_sort_of_clevr"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp(DEMO)
    result = run(DEMO, output_dir, *TINY_FLAGS)
    assert result.returncode == 0, result.stderr
    return output_dir, result


def test_writes_accuracies_of_both_models_metrics_and_plots(tiny_run):
    output_dir, result = tiny_run
    assert {"results.json", "metrics.csv", "learning_curves.png", "question_types.png",
            "checkpoint.npz"} <= set(os.listdir(output_dir))
    results = headline(output_dir)
    assert results["num_test_questions"] == 40 and results["config"]["min_distance"] == 0.1
    for model in ("relation_network", "mlp"):
        figures = results[model]
        for kind in ("relational_accuracy", "non_relational_accuracy", "accuracy"):
            assert 0 <= figures[kind] <= 1
        assert len(figures["by_question_type"]) == 6
    header = read(os.path.join(output_dir, "metrics.csv")).splitlines()[0].split(",")
    assert header == ["step", "loss", "relation_network_relational",
                      "relation_network_non_relational", "mlp_relational", "mlp_non_relational"]
    assert read(os.path.join(output_dir, "metrics.csv")).count("\n") == 1 + 12 // 3
    assert "relational acc" in result.stdout and "step 12/12" in result.stdout


def test_the_mlp_has_about_the_relation_networks_parameters(tiny_run):
    output_dir, result = tiny_run
    counts = headline(output_dir)["parameters"]
    assert abs(counts["mlp"] - counts["relation_network"]) <= 0.05 * counts["relation_network"]
    assert (f"parameters: relation network {counts['relation_network']:,}, "
            f"MLP {counts['mlp']:,}") in result.stdout


def test_resume_after_kill_gives_the_uninterrupted_numbers(tiny_run, tmp_path):
    reference_dir, _ = tiny_run
    kill_at_first_checkpoint(DEMO, tmp_path, *TINY_FLAGS)
    damage_a_checkpointed_row(tmp_path)
    resumed = run(DEMO, tmp_path, *TINY_FLAGS)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    assert "at iteration 12" not in resumed.stdout, "the kill came too late to test a resume"
    assert headline(tmp_path) == headline(reference_dir)
    assert read(tmp_path / "metrics.csv") == read(reference_dir / "metrics.csv")
    assert sorted(os.listdir(tmp_path)) == sorted(os.listdir(reference_dir)), \
        "no temporary or lock file is left"


def test_checkpoint_of_other_scenes_is_refused(tiny_run):
    output_dir, _ = tiny_run
    result = run(DEMO, output_dir, *TINY_FLAGS, "--min_distance=0.2")
    assert result.returncode == 1
    assert "min_distance=0.1, but this run has min_distance=0.2" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
