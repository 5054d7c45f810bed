"""`BatchedHanabi` splits its batch over two forced host devices and matches one device."""

from __future__ import annotations

import textwrap

_SCRIPT = textwrap.dedent("""
    import jax
    import jax.numpy as jnp
    import numpy as np
    from games.hanabi import jax_game as hanabi_jax
    from games.hanabi.config import make_config

    assert len(jax.devices()) == 2, jax.devices()
    config = make_config("small")
    sharded = hanabi_jax.BatchedHanabi(config, 16)
    single = hanabi_jax.BatchedHanabi(config, 16, devices=jax.devices()[:1])
    states = [games.reset(jax.random.PRNGKey(0)) for games in (sharded, single)]
    assert states[0].hands.sharding.device_set == set(jax.devices())
    assert states[0].hands.addressable_shards[0].data.shape == (8, 2, config.hand_size)
    finished = 0
    for t in range(30):
        key = jax.random.PRNGKey(t + 1)
        masks = [games.legal_actions_mask(s) for games, s in zip((sharded, single), states)]
        np.testing.assert_array_equal(masks[0], masks[1])
        actions = jax.random.categorical(key, jnp.where(masks[1], 0.0, -jnp.inf))
        results = [games.step(s, actions, key) for games, s in zip((sharded, single), states)]
        for a, b in zip(jax.tree.leaves(results[0]), jax.tree.leaves(results[1])):
            np.testing.assert_array_equal(a, b)
        assert results[0][0].deck.sharding.device_set == set(jax.devices())
        states = [r[0] for r in results]
        finished += int(results[0][2].sum())
    np.testing.assert_array_equal(sharded.observations(states[0]), single.observations(states[1]))
    assert finished > 0
    print("sharded ok", finished)
""")


def test_batch_is_sharded_over_two_host_devices(run_on_two_host_devices):
    assert "sharded ok" in run_on_two_host_devices(_SCRIPT)
