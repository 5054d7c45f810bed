"""`hanabi_learner.shard_over_devices`: training split over two host devices matches one device."""

import textwrap

import pytest

_SCRIPT = textwrap.dedent("""
    import jax
    import numpy as np
    from bad.hanabi import learner as hanabi_learner
    from bad.hanabi.agent import AgentConfig
    from games.hanabi.config import make_config

    assert jax.device_count() == 2, jax.devices()
    config = hanabi_learner.TrainConfig(
        agent=AgentConfig(make_config("very_small"), method="bad", hidden_sizes=(16,)),
        num_envs=16, rollout_length=8)
    state = hanabi_learner.init_train_state(config, jax.random.PRNGKey(0))
    single, single_metrics = hanabi_learner.train_updates(config, state, 2)
    sharded_state = hanabi_learner.shard_over_devices(state)
    assert len(sharded_state.games.hands.sharding.device_set) == 2
    sharded, sharded_metrics = hanabi_learner.train_updates(config, sharded_state, 2)
    assert len(sharded.games.hands.sharding.device_set) == 2
    for a, b in zip(jax.tree.leaves(jax.device_get(single.params)),
                    jax.tree.leaves(jax.device_get(sharded.params))):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(jax.device_get(single.games.hands),
                                  jax.device_get(sharded.games.hands))
    for name in single_metrics:
        np.testing.assert_allclose(single_metrics[name], sharded_metrics[name],
                                   rtol=1e-4, atol=1e-5)
    print("sharded ok")
""")


@pytest.mark.slow  # trains twice in a fresh two-device interpreter (about 50 s)
def test_training_split_over_two_host_devices_matches_one_device(run_on_two_host_devices):
    assert "sharded ok" in run_on_two_host_devices(_SCRIPT)
