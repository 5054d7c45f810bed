"""AgentConfig and TrainConfig refuse out-of-range settings with a ValueError naming the field."""

import math

import pytest

from bad.hanabi.agent import AgentConfig
from bad.hanabi.learner import TrainConfig
from games.hanabi.config import make_config

GAME = make_config("very_small")

BAD_AGENTS = [
    ("method", {"method": "sad"}),
    ("hidden_sizes", {"hidden_sizes": ()}),
    ("hidden_sizes", {"hidden_sizes": (32, 0)}),
    ("likelihood_floor", {"likelihood_floor": 0.0}),
    ("likelihood_floor", {"likelihood_floor": math.nan}),
    ("min_log_likelihood", {"min_log_likelihood": -math.inf}),
    ("min_log_likelihood", {"min_log_likelihood": 1.0}),
    ("cf_weight", {"cf_weight": -1.0}),
    ("cf_weight", {"cf_weight": math.inf}),
    ("likelihood_samples", {"likelihood_samples": 0}),
    ("v2_alpha", {"v2_alpha": 1.5}),
    ("exact_belief", {"exact_belief": True}),  # very_small is 2x2, but IPPO below is not BAD
]

BAD_TRAINING = [
    ("num_envs", {"num_envs": 0}),
    ("rollout_length", {"rollout_length": -1}),
    ("num_epochs", {"num_epochs": 0}),
    ("learning_rate", {"learning_rate": math.inf}),
    ("learning_rate", {"learning_rate": math.nan}),
    ("learning_rate", {"learning_rate": 0.0}),
    ("max_grad_norm", {"max_grad_norm": -0.5}),
    ("discount", {"discount": 1.5}),
    ("gae_lambda", {"gae_lambda": -0.1}),
    ("entropy_weight", {"entropy_weight": math.inf}),
    ("num_minibatches", {"num_minibatches": 3}),  # 256 * 32 moves do not split in three
    ("final_learning_rate_fraction", {"final_learning_rate_fraction": 1.5}),
    ("final_entropy_fraction", {"final_entropy_fraction": -0.1}),
]


@pytest.mark.parametrize("field, kwargs", BAD_AGENTS, ids=[f for f, _ in BAD_AGENTS])
def test_agent_config_refuses(field, kwargs):
    method = {"method": "ippo"} if field == "exact_belief" else {}
    with pytest.raises(ValueError, match=field.split("_")[0]):
        AgentConfig(GAME, **{**method, **kwargs})


@pytest.mark.parametrize("field, kwargs", BAD_TRAINING, ids=[f for f, _ in BAD_TRAINING])
def test_train_config_refuses(field, kwargs):
    with pytest.raises(ValueError, match=field):
        TrainConfig(agent=AgentConfig(GAME), **kwargs)


@pytest.mark.parametrize("kwargs", [{"v2_alpha": 0.1}, {"likelihood_samples": 2}])
def test_ippo_refuses_the_settings_of_bad_beliefs(kwargs):
    with pytest.raises(ValueError, match=f"{next(iter(kwargs))}.* apply to method 'bad' only"):
        AgentConfig(GAME, method="ippo", **kwargs)


def test_valid_edge_settings_are_accepted():
    AgentConfig(GAME, likelihood_floor=1.0, cf_weight=0.0, v2_alpha=1.0, exact_belief=False)
    AgentConfig(GAME, exact_belief=True)
    TrainConfig(agent=AgentConfig(GAME), num_envs=1, rollout_length=1, num_minibatches=1,
                discount=1.0, gae_lambda=0.0, entropy_weight=0.0)
