"""The factorised BAD likelihood: per hand slot and card value, how likely each observed move was.

After the actor plays `u`, every partner slot `i` and value `v` gets the factor `L(i, v) = P(u |
hands with slot i holding v)`. The other partner slots must be filled with something every player
can compute: the receiving player does not know its own other cards. We fill them with
`likelihood_samples` hands sampled from the public belief with the shared key and average `L` over
them. `L` is the probability of `u` under the policy, i.e. the Gumbel partial policy marginalised
over its noise: with sampled neighbours the hard indicator `1[argmax(logits + g) == u]` would often
rule out the real card, which no later evidence can revive. One sample makes the belief
overconfident (the policy is sharper on the sample than on average over the neighbours the real
hand may hold), and `L` is floored at `likelihood_floor` for the same reason.

Per slot the log-likelihoods add up over moves, follow their card as it moves down the hand
(`games.hanabi.rules.remove_slot`), start at zero for a newly dealt card, and are kept within
`[min_log_likelihood, 0]` of the slot's maximum (`track_likelihood`).

The counterfactual hands' legal actions (`counterfactual_legal_actions`) differ from the real ones
only in the hints, which depend on the hinted partner's cards.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bad.hanabi import network as hanabi_network
from bad.hanabi.agent_types import AgentConfig
from games import sampling
from games.hanabi import jax_game as hanabi_jax
from games.hanabi import rules as hanabi_rules
from games.hanabi.config import HanabiConfig
from games.hanabi.layout import action_layout


def _card_moves(game: HanabiConfig) -> slice:
    """The discard and play actions, which come first."""
    layout = action_layout(game)
    return slice(layout.discard.start, layout.play.stop)


def hand_legal_actions(game: HanabiConfig, legal_actions: jax.Array,
                       hands: jax.Array) -> jax.Array:
    """bool [num_actions]: the legal actions had the partners held `hands` (-1 empty).

    Plays and discards depend only on public facts, so they are the real ones; a hint is legal
    when information tokens remain (some hint is legal in the real game) and the target holds a
    card of the hinted color or rank (`games.hanabi.rules.legal_hints`).
    """
    layout = action_layout(game)
    can_hint = legal_actions[layout.hints].any()
    return jnp.concatenate([legal_actions[_card_moves(game)],
                            hanabi_rules.legal_hints(game, hands, can_hint)])


def counterfactual_legal_actions(game: HanabiConfig, legal_actions: jax.Array,
                                 hands: jax.Array) -> jax.Array:
    """bool [players - 1, hand_size, values, num_actions]: `hand_legal_actions` of `hands` with
    partner `o`'s slot `i` set to value `v`, for every `[o, i, v]`."""
    h, c, r, others = game.hand_size, game.colors, game.ranks, game.players - 1
    layout = action_layout(game)
    valid = hands >= 0
    can_hint = legal_actions[layout.hints].any()

    def present(features: jax.Array, size: int) -> tuple[jax.Array, jax.Array]:
        """Per partner, counts [others, size] of a feature, and per slot its one-hot [.., size]."""
        one_hot = ((features[..., None] == jnp.arange(size)) & valid[..., None]).astype(jnp.int32)
        return one_hot.sum(1), one_hot

    def changed(counts, one_hot, value_feature, size):
        """[others(target), hand, values, others(partner), size]: presence after the change."""
        without_slot = counts[:, None, :] - one_hot                   # [o, h, size]
        with_value = (without_slot[:, :, None, :]
                      + (value_feature[:, None] == jnp.arange(size)))  # [o, h, v, size]
        target = jnp.eye(others, dtype=bool)[:, None, None, :, None]
        return jnp.where(target, with_value[:, :, :, None, :] > 0, counts[None, None, None] > 0)

    values = jnp.arange(game.num_values)
    color_counts, color_hot = present(hands // r, c)
    rank_counts, rank_hot = present(hands % r, r)
    colors = changed(color_counts, color_hot, values // r, c).reshape(others, h, -1, others * c)
    ranks = changed(rank_counts, rank_hot, values % r, r).reshape(others, h, -1, others * r)
    moves = legal_actions[_card_moves(game)]
    moves = jnp.broadcast_to(moves, (others, h, game.num_values, moves.shape[0]))
    return jnp.concatenate([moves, (colors & can_hint), (ranks & can_hint)], axis=-1)


def floored_log(config: AgentConfig, probability: jax.Array) -> jax.Array:
    """`log(floor + (1 - floor) * p)`: no single move rules a card out for good."""
    floor = config.likelihood_floor
    return jnp.log(floor + (1.0 - floor) * probability)


def partner_log_likelihood(config: AgentConfig, policy: hanabi_network.Params,
                           public_input: jax.Array, legal_actions: jax.Array, samples: jax.Array,
                           action: jax.Array, public: jax.Array | None = None) -> jax.Array:
    """log L [players - 1, hand_size, values]: the played action's probability with each partner
    slot set to each value, the other slots those of each public sample (`samples` [K,
    players - 1, hand_size]), averaged over the samples and floored (0 for empty slots).
    `public` is `public_input`'s `hanabi_network.public_preactivation` where the caller has it."""
    if public is None:
        public = hanabi_network.public_preactivation(policy, public_input)

    def likelihood(sample: jax.Array) -> jax.Array:
        logits = hanabi_network.counterfactual_logits(config, policy, public_input, sample,
                                                      public)
        legal = counterfactual_legal_actions(config.game, legal_actions, sample)
        # The one probability needed, `1 / sum_b exp(logit_b - logit_u)` over the legal `b`, in
        # one pass without a max; a term that overflows gives the right limit, probability 0.
        odds = jnp.exp(logits - logits[..., action, None])
        total = jnp.where(legal, odds, 0.0).sum(-1)
        return jnp.where(legal[..., action], 1.0 / total, 0.0)

    mean = jax.vmap(likelihood)(samples).mean(0)
    return jnp.where((samples[0] >= 0)[..., None], floored_log(config, mean), 0.0)


def track_likelihood(config: AgentConfig, log_likelihood: jax.Array, actor: jax.Array,
                     partner_log_likelihood: jax.Array, action: jax.Array) -> jax.Array:
    """Adds a move's partner-slot log-likelihoods and moves the actor's rows with its cards.

    Args:
      log_likelihood: [players, hand_size, values], absolute seats.
      actor: the seat that moved.
      partner_log_likelihood: [players - 1, hand_size, values] by seat offset from the actor.
      action: the move, whose play or discard shifts the actor's slots.
    """
    game = config.game
    seats = (actor + 1 + jnp.arange(game.players - 1)) % game.players
    log_likelihood = log_likelihood.at[seats].add(partner_log_likelihood)
    log_likelihood = log_likelihood - log_likelihood.max(-1, keepdims=True)
    log_likelihood = jnp.maximum(log_likelihood, config.min_log_likelihood)
    move = hanabi_jax.decode_action(game, action)
    shifted = hanabi_rules.remove_slot(log_likelihood, move.slot, 0.0, axis=-2)
    is_actor = (jnp.arange(game.players) == actor)[:, None, None]
    return jnp.where(is_actor & (move.is_play | move.is_discard), shifted, log_likelihood)


def sample_hands(key: jax.Array, belief: jax.Array, valid: jax.Array,
                 num_samples: int = 1) -> jax.Array:
    """int32 [num_samples, rows, hand_size]: each slot's value drawn from its belief [rows,
    hand_size, values], -1 for empty slots."""
    values = sampling.draw(key, belief, (num_samples, *valid.shape))
    return jnp.where(valid, values, -1)
