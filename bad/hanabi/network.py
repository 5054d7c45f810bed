"""The Hanabi agents' network: a policy whose first layer is linear in the cards, and a critic.

The policy maps a public input (public observation, public belief, card-status features; see
`bad.hanabi.agent.public_input`) and the partners' hands to action logits. Its first layer gives
every partner card its value's row plus a learned row per slot and card status (playable, dead,
critical: `games.hanabi.rules.card_status`), then ReLU layers follow.

Because the first layer is linear in the one-hot cards, the pre-activation of a hand with partner
slot `i` set to value `v` is `z(hand) - W[i, hand_i] + W[i, v]`: all `(players - 1) * hand_size *
values` counterfactual hands cost one rank-one change each instead of a forward pass
(`counterfactual_logits`), and all joint hands of a two-card partner one rank-two change each
(`joint_hand_logits`).

Parameters are a plain dict (see `init_params`); every function is pure and per game, for `vmap`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from bad.hanabi.agent_types import AgentConfig
from games.hanabi import rules as hanabi_rules

Params = dict
ILLEGAL_LOGIT = -1e9  # finite, so that masked softmaxes never give NaN


def _dense_init(key: jax.Array, fan_in: int, fan_out: int, scale: float = 1.0) -> dict:
    w = jax.random.normal(key, (fan_in, fan_out)) * scale / np.sqrt(fan_in)
    return {"w": w, "b": jnp.zeros(fan_out)}


def _mlp_init(key: jax.Array, sizes: list[int], output_scale: float) -> list[dict]:
    keys = jax.random.split(key, len(sizes) - 1)
    last = len(sizes) - 2
    return [_dense_init(k, a, b, output_scale if i == last else np.sqrt(2.0))
            for i, (k, a, b) in enumerate(zip(keys, sizes[:-1], sizes[1:]))]


def init_params(config: AgentConfig, key: jax.Array) -> Params:
    """Policy and critic parameters.

    policy: `public` [public_input_size, h1], `private` [private_size, h1] (rows ordered like the
    private observation), `status` [players - 1, hand_size, NUM_CARD_STATUSES, h1] (each partner
    slot's row per card status), `bias` [h1], then `layers`, a list of dense layers to the
    logits.
    critic: a list of dense layers from the critic input to one value.
    """
    game = config.game
    policy_key, private_key, status_key, layers_key, critic_key = jax.random.split(key, 5)
    h1 = config.hidden_sizes[0]
    scale = np.sqrt(2.0 / (config.public_input_size + game.private_size))
    status_shape = (game.players - 1, game.hand_size, hanabi_rules.NUM_CARD_STATUSES, h1)
    return {
        "policy": {
            "public": jax.random.normal(policy_key, (config.public_input_size, h1)) * scale,
            "private": jax.random.normal(private_key, (game.private_size, h1)) * scale,
            "status": jax.random.normal(status_key, status_shape) * scale,
            "bias": jnp.zeros(h1),
            "layers": _mlp_init(layers_key, [*config.hidden_sizes, game.num_actions], 0.01),
        },
        "critic": _mlp_init(critic_key, [config.critic_input_size, *config.hidden_sizes, 1], 1.0),
    }


def apply_layers(layers: list[dict], x: jax.Array) -> jax.Array:
    """ReLU on the input, then dense layers with ReLU between them (none after the last)."""
    for layer in layers:
        x = jax.nn.relu(x) @ layer["w"] + layer["b"]
    return x


def apply_layers_padded(layers: list[dict], x: jax.Array, multiple: int = 8) -> jax.Array:
    """`apply_layers` with the last product's columns padded with zeros to a `multiple`: XLA:CPU
    ran the counterfactual likelihoods' large, narrow product (30 actions on 3 players) faster
    with 32 columns, padding included."""
    *hidden, last = layers
    x = apply_layers(hidden, x) if hidden else x
    columns = last["w"].shape[1]
    w = jnp.pad(last["w"], ((0, 0), (0, -columns % multiple)))
    return (jax.nn.relu(x) @ w)[..., :columns] + last["b"]


def masked(logits: jax.Array, legal: jax.Array) -> jax.Array:
    """`logits` with the illegal actions at `ILLEGAL_LOGIT`."""
    return jnp.where(legal, logits, ILLEGAL_LOGIT)


def card_status_of(config: AgentConfig, public_input: jax.Array) -> jax.Array:
    """float [values, NUM_CARD_STATUSES] from the fireworks and discards of the public input (or
    of the public observation, which it starts with)."""
    game = config.game
    public = public_input[..., :game.public_size]
    return hanabi_rules.card_status(
        game, hanabi_rules.fireworks_from_observation(game, public, public=True),
        hanabi_rules.discards_from_observation(game, public, public=True))


def public_preactivation(policy: Params, public_input: jax.Array) -> jax.Array:
    """The first layer's public part plus its bias: [h1]."""
    return public_input @ policy["public"] + policy["bias"]


def _value_weights(config: AgentConfig, policy: Params) -> jax.Array:
    game = config.game
    return policy["private"].reshape(game.players - 1, game.hand_size, game.num_values, -1)


def private_weights(config: AgentConfig, policy: Params, status: jax.Array) -> jax.Array:
    """[players - 1, hand_size, values, h1]: each possible partner card's first-layer row: its
    value's row plus its slot's rows for the statuses (`status` [values, NUM_CARD_STATUSES])."""
    # Broadcast multiply-adds, not an einsum: XLA fuses them into the consumers, where a per-game
    # dot of contraction size NUM_CARD_STATUSES was the slowest op of the whole update.
    rows = _value_weights(config, policy)
    for s in range(hanabi_rules.NUM_CARD_STATUSES):
        rows = rows + status[:, s, None] * policy["status"][:, :, s, None, :]
    return rows


def card_features(config: AgentConfig, card_status: jax.Array, hands: jax.Array) -> jax.Array:
    """float [(players - 1) * hand_size * (values + NUM_CARD_STATUSES)]: the partners' cards as
    the first layer reads them: one-hot values (rows ordered like the private observation), then
    each occupied slot's card statuses (`card_status` [values, NUM_CARD_STATUSES]); zeros for an
    empty slot (-1)."""
    valid = (hands >= 0)[..., None]
    values = (hands[..., None] == jnp.arange(config.game.num_values)) & valid
    statuses = jnp.where(valid, card_status[jnp.maximum(hands, 0)], 0.0)
    return jnp.concatenate([values.astype(jnp.float32).reshape(-1), statuses.reshape(-1)])


def card_weights(policy: Params) -> jax.Array:
    """[(players - 1) * hand_size * (values + NUM_CARD_STATUSES), h1]: the first layer's rows
    for `card_features`, `private` then `status`."""
    status = policy["status"]
    return jnp.concatenate([policy["private"], status.reshape(-1, status.shape[-1])])


def private_preactivation(config: AgentConfig, policy: Params, card_status: jax.Array,
                          partner_hands: jax.Array) -> jax.Array:
    """The first layer's part [h1] from the partners' hands and their cards' statuses
    (`card_status` [values, NUM_CARD_STATUSES], from `card_status_of`)."""
    # One dense product: its weight gradient is one plain matrix product over the batch, where
    # a gather of value rows and a per-slot einsum over the statuses made XLA transpose the
    # whole batch's cotangents (a third of the 3-player PPO step's summed op time).
    return card_features(config, card_status, partner_hands) @ card_weights(policy)


def _card_rows(config: AgentConfig, policy: Params, card_status: jax.Array,
               hands: jax.Array) -> jax.Array:
    """[players - 1, hand_size, h1]: each slot's own first-layer row (zero for an empty slot)."""
    valid = (hands >= 0)[..., None]
    cards = jnp.maximum(hands, 0)
    values = jnp.take_along_axis(_value_weights(config, policy), cards[:, :, None, None],
                                 axis=2)[:, :, 0]
    statuses = jnp.einsum("ois,oish->oih", card_status[cards], policy["status"])
    return jnp.where(valid, values + statuses, 0.0)


def policy_logits(config: AgentConfig, policy: Params, public_input: jax.Array,
                  partner_hands: jax.Array) -> jax.Array:
    """Action logits [num_actions] for the given partners' hands: one whole forward pass."""
    return hands_logits(config, policy, public_input, [partner_hands])[0]


def hands_logits(config: AgentConfig, policy: Params, public_input: jax.Array,
                 hands: Sequence[jax.Array], public: jax.Array | None = None) -> list[jax.Array]:
    """`policy_logits` of each of `hands` at one public input (`public`: its
    `public_preactivation` where the caller has it).

    The public pre-activation and the cards' statuses are computed once for all of them, so a
    gradient sums the pre-activation's cotangents first and makes one weight-gradient product
    for `public`, not one per hand.
    """
    public = public_preactivation(policy, public_input) if public is None else public
    card_status = card_status_of(config, public_input)
    return [apply_layers(policy["layers"],
                         public + private_preactivation(config, policy, card_status, h))
            for h in hands]


def counterfactual_logits(config: AgentConfig, policy: Params, public_input: jax.Array,
                          hands: jax.Array, public: jax.Array | None = None) -> jax.Array:
    """Logits [players - 1, hand_size, values, num_actions] of `hands` with one slot changed.

    Entry `[o, i, v]` is the policy on `hands` with partner `o`'s slot `i` holding value `v`,
    computed as a rank-one change of the first layer's pre-activation (`public`: the
    `public_preactivation` of `public_input` where the caller has it).
    """
    public = public_preactivation(policy, public_input) if public is None else public
    card_status = card_status_of(config, public_input)
    # The hands' own rows come from the small per-slot tables, so that the large table of every
    # card's rows has one consumer and XLA computes it inside the loop that builds the
    # pre-activations, instead of writing it out for a gather.
    slot_rows = _card_rows(config, policy, card_status, hands)
    base = public + slot_rows.sum((0, 1))
    weights = private_weights(config, policy, card_status)
    return apply_layers_padded(policy["layers"], (base - slot_rows)[:, :, None, :] + weights)


def joint_hand_logits(config: AgentConfig, policy: Params, public_input: jax.Array,
                      valid: jax.Array, public: jax.Array | None = None) -> jax.Array:
    """Logits [values, values, num_actions] for every two-card hand of the single partner
    (`valid` [2] marks its occupied slots; an empty second slot adds nothing; `public` as in
    `counterfactual_logits`)."""
    public = public_preactivation(policy, public_input) if public is None else public
    weights = private_weights(config, policy, card_status_of(config, public_input))[0]
    second = jnp.where(valid[1], weights[1], 0.0)
    pre = public + weights[0][:, None, :] + second[None, :, :]
    return apply_layers(policy["layers"], pre)


def one_hot_hands(config: AgentConfig, hands: jax.Array) -> jax.Array:
    """float [rows * hand_size * values]: one-hot cards of hands [rows, hand_size], -1 empty."""
    num_values = config.game.num_values
    return (hands[..., None] == jnp.arange(num_values)).astype(jnp.float32).reshape(-1)


def critic_value(config: AgentConfig, critic: list[dict], public_input: jax.Array,
                 hands: jax.Array) -> jax.Array:
    """Value []: `hands` are every hand (BAD) or the partners' (IPPO), from the actor's seat.

    The first layer reads `[public_input, one_hot_hands(hands)]` as two products, one per part:
    no concatenated copy of the input, and no leading ReLU, which is the identity on these
    inputs (all >= 0).
    """
    first, *layers = critic
    public_rows = public_input.shape[-1]
    x = (public_input @ first["w"][:public_rows]
         + one_hot_hands(config, hands) @ first["w"][public_rows:] + first["b"])
    return apply_layers(layers, x)[0]
