"""experiments.config_flags: flags made from a config dataclass, and the dataclass built back."""

import dataclasses
import json
import subprocess
import sys

import pytest
from absl import flags
from test_run_files import ENV, ROOT

from bad import matrix_game
from bad.hanabi import learner as hanabi_learner
from bad.hanabi.agent import AgentConfig
from experiments import common, config_flags


@dataclasses.dataclass(frozen=True)
class Toy:
    """A toy config.

    Attributes:
      size: How many, at
        least 1.
      rate: A rate.
      name: Which one.
      widths: Layer widths.
      limit: An optional cap.
      fast: Go fast.
    """

    size: int = 3
    rate: float = 0.5
    name: str = "a"
    widths: tuple[int, ...] = (4, 8)
    limit: float | None = None
    fast: bool = False

    def __post_init__(self):
        if self.size < 1:
            raise ValueError(f"Toy.size must be at least 1, got {self.size}; size and rate "
                             "go together.")


NAMES = [field.name for field in dataclasses.fields(Toy)]


@pytest.fixture
def toy_flags():
    flag_values = flags.FlagValues()
    config_flags.define(Toy, NAMES, choices={"name": ["a", "b"]}, flag_values=flag_values)
    return flag_values


def test_defaults_and_help_come_from_the_dataclass(toy_flags):
    toy_flags(["toy"])
    assert config_flags.build(Toy, NAMES, flag_values=toy_flags) == Toy()
    assert toy_flags["size"].help == "How many, at least 1."
    assert toy_flags["widths"].value == ["4", "8"]
    assert toy_flags["name"].parser.enum_values == ["a", "b"]


def test_values_are_built_back(toy_flags):
    toy_flags(["toy", "--size=5", "--rate=2", "--name=b", "--widths=1,2,3", "--limit=7",
               "--fast"])
    assert config_flags.build(Toy, NAMES, flag_values=toy_flags) == Toy(5, 2.0, "b", (1, 2, 3),
                                                                        7.0, True)


def test_a_refused_value_names_the_flags(toy_flags):
    toy_flags(["toy", "--size=0"])
    with pytest.raises(common.ExperimentError,
                       match=r"^--size must be at least 1, got 0; --size and --rate go together"):
        config_flags.build(Toy, NAMES, flag_values=toy_flags)
    toy_flags(["toy", "--size=1", "--widths=4,x"])
    with pytest.raises(common.ExperimentError, match="--widths must be integers, got 4,x"):
        config_flags.build(Toy, NAMES, flag_values=toy_flags)


@dataclasses.dataclass(frozen=True)
class Lists:
    """List flags of each item type.

    Attributes:
      names: Some names.
      points: Some numbers.
    """

    names: tuple[str, ...] = ("x", "y")
    points: tuple[float, ...] = (5, 0.5)


def test_lists_of_strings_and_numbers():
    flag_values = flags.FlagValues()
    config_flags.define(Lists, ["names", "points"], flag_values=flag_values)
    flag_values(["lists"])
    assert flag_values["points"].value == ["5", "0.5"]
    assert config_flags.build(Lists, ["names", "points"], flag_values=flag_values) == Lists()
    flag_values(["lists", "--names=", "--points=1e6,2"])
    assert config_flags.build(Lists, ["names", "points"], flag_values=flag_values) == Lists(
        (), (1e6, 2.0))
    flag_values(["lists", "--points=1,two"])
    with pytest.raises(common.ExperimentError, match="^--points must be numbers, got 1,two.$"):
        config_flags.build(Lists, ["names", "points"], flag_values=flag_values)


def test_flag_names_leave_paths_and_file_names_alone():
    message = "runs lists runs/a twice; Toy.seed is not x/seed or seed.npz or seed-1: seed."
    assert config_flags.flag_names(message, ["runs", "seed"]) == (
        "--runs lists runs/a twice; --seed is not x/seed or seed.npz or seed-1: --seed.")


def test_a_field_without_help_or_default_is_refused():
    @dataclasses.dataclass
    class Undocumented:
        """No attributes."""

        need: int
        size: int = 1

    with pytest.raises(ValueError, match="no Attributes entry for size"):
        config_flags.define(Undocumented, ["size"], flag_values=flags.FlagValues())
    with pytest.raises(ValueError, match="need has no default"):
        config_flags.default(Undocumented, "need")


@pytest.mark.parametrize("cls, names", [
    (AgentConfig, ["method", "hidden_sizes", "cf_weight", "likelihood_samples", "v2_alpha",
                   "exact_belief", "likelihood_floor", "min_log_likelihood"]),
    (hanabi_learner.TrainConfig, [f.name for f in dataclasses.fields(hanabi_learner.TrainConfig)
                                  if f.name != "agent"]),
    (matrix_game.Config, [f.name for f in dataclasses.fields(matrix_game.Config)]),
])
def test_the_library_configs_document_every_field(cls, names):
    flag_values = flags.FlagValues()
    config_flags.define(cls, names, flag_values=flag_values)
    for name in names:
        assert flag_values[name].help, name
        expected = config_flags.default(cls, name)
        assert flag_values[name].default == (
            [str(v) for v in expected] if isinstance(expected, tuple) else expected), name


# In a fresh interpreter (two binaries' flags cannot meet in one): the flags of a binary's
# tuple of setting names, with their default values.
_DEFAULTS = """
import importlib, json, sys
from absl import flags
module = importlib.import_module(sys.argv[1])
flags.FLAGS([sys.argv[1]])
print(json.dumps({name: flags.FLAGS[name].value for name in getattr(module, sys.argv[2])}))
"""


@pytest.mark.parametrize("binary, cls, names", [
    ("experiments.bad_hanabi", hanabi_learner.TrainConfig, "TRAIN_FLAGS"),
    ("experiments.bad_hanabi", AgentConfig, "AGENT_FLAGS"),
    ("experiments.bad_matrix_game", matrix_game.Config, "CONFIG_FLAGS"),
])
def test_the_binaries_flag_defaults_are_the_dataclasses(binary, cls, names):
    result = subprocess.run([sys.executable, "-c", _DEFAULTS, binary, names], cwd=ROOT, env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert len(values) >= 6
    for name, value in values.items():
        expected = config_flags.default(cls, name)
        assert value == ([str(v) for v in expected] if isinstance(expected, tuple)
                         else expected), name


def test_the_gn_demos_shared_flags_take_each_demos_defaults():
    from experiments import gn_common

    flag_values = flags.FlagValues()
    defaults = dict(num_iterations=5, batch_size_train=2, batch_size_test=2,
                    num_processing_steps=3, latent_size=4, num_layers=1, aggregation="max",
                    learning_rate=0.1, final_learning_rate_fraction=0.5, seed=0, log_every=1,
                    num_eval_graphs=2)
    config_flags.define(gn_common.TrainingConfig, gn_common.TRAINING_FLAGS,
                        choices={"aggregation": sorted(gn_common.REDUCERS)}, defaults=defaults,
                        flag_values=flag_values)
    flag_values(["demo"])
    assert config_flags.build(gn_common.TrainingConfig, gn_common.TRAINING_FLAGS,
                              flag_values=flag_values) == gn_common.TrainingConfig(**defaults)
    assert "Bellman-Ford" in flag_values["aggregation"].help
    flag_values(["demo", "--num_layers=0"])
    with pytest.raises(common.ExperimentError, match="^--num_layers must be positive, got 0"):
        config_flags.build(gn_common.TrainingConfig, gn_common.TRAINING_FLAGS,
                           flag_values=flag_values)
