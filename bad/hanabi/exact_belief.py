"""The exact public belief of two-player Hanabi with two-card hands (small, very_small).

BAD's BB belief (`bad.hanabi.belief`) is factorised: one distribution per slot, a per-slot
likelihood, and card-count consistency by a few rounds of iteration. With two players holding two
cards each, the joint public belief over both hands has only `values ** 4` entries (10,000 on
small), so it can be kept exactly:

    P(a, b) ~ W(a, b) * HM_a(a) * HM_b(b) * L_a(a) * L_b(b)

over the first player's hand `a = (a0, a1)` and the second's `b = (b0, b1)`, where `HM` are the
hint masks, `W(a, b)` is the number of ways to draw those four cards from the remaining counts `C`
(`C[a0] * (C[a1] - [a1 == a0]) * (C[b0] - n_a(b0)) * (C[b1] - n_a(b1) - [b1 == b0])`, with `n_a(v)`
the copies of `v` in `a`), and `L_p` is the likelihood of every action the partner of `p` took,
for each of `p`'s joint hands (`[values, values]` per player, tracked in log space).

Marginals never build the `values ** 4` table: `W` is a polynomial of degree two in the indicators
of `a` for fixed `b` (and the other way round), so each hand's marginal is its own factors times a
few `[values]` and `[values, values]` sums of the other hand's (`exact_belief`).

When a player plays or discards a card, everybody sees its value `v`: the player's joint
likelihood is conditioned on it (`reveal`), the remaining card moves down one slot and the newly
dealt card starts with no evidence. The agent reads the move's card from the last-move section of
the next public observation (`games.hanabi.rules.last_removed_card`), so the tracked table always
waits for the last move's reveal, which every reader of it applies first.

An empty slot (after the deck ran out) is the last one of its hand; it holds the placeholder value
0 with weight one and takes no copy from the counts.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from bad.hanabi import agent_types as hanabi_types
from bad.hanabi import likelihood as hanabi_likelihood
from bad.hanabi import network as hanabi_network
from bad.hanabi.agent_types import AgentConfig
from games import sampling
from games.hanabi.config import HanabiConfig

PLAYERS = hanabi_types.EXACT_BELIEF_PLAYERS
HAND_SIZE = hanabi_types.EXACT_BELIEF_HAND_SIZE


def initial_log_likelihood(game: HanabiConfig) -> jax.Array:
    """float [players, values, values]: no evidence yet about either joint hand."""
    return jnp.zeros((PLAYERS, game.num_values, game.num_values), jnp.float32)


def _hand_masks(card_knowledge: jax.Array, valid: jax.Array) -> jax.Array:
    """[values, values]: 1 where both slots' hint masks allow the pair; an empty slot allows only
    the placeholder value 0."""
    placeholder = jnp.arange(card_knowledge.shape[-1]) == 0
    masks = jnp.where(valid[:, None], card_knowledge, placeholder).astype(jnp.float32)
    return masks[0][:, None] * masks[1][None, :]


def _own_draws(counts: jax.Array, valid: jax.Array) -> tuple[jax.Array, jax.Array]:
    """A hand's draw from `counts`, (`C[x0]` [values, 1], `C[x1] - [x1 == x0]` [values, values]),
    one for an empty slot."""
    same = jnp.eye(counts.shape[0], dtype=jnp.float32)
    first = jnp.where(valid[0], counts, 1.0)[:, None]
    second = jnp.where(valid[1], counts[None, :] - valid[0] * same, 1.0)
    return first, second


def exact_belief(card_knowledge: jax.Array, remaining_counts: jax.Array,
                 log_likelihood: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The exact public belief.

    Args:
      card_knowledge: bool [players, hand_size, values] hint masks (all false for an empty slot).
      remaining_counts: int [values], copies not yet played or discarded.
      log_likelihood: [players, values, values], each joint hand's log-likelihood of the partner's
        actions (any constant per player).

    Returns:
      (per-slot marginals [players, hand_size, values], zero for an empty slot; each player's
      joint hand posterior [players, values, values]).
    """
    valid = card_knowledge.any(-1)
    va, vb = valid.astype(jnp.float32)
    counts = remaining_counts.astype(jnp.float32)
    evidence = jnp.exp(log_likelihood - log_likelihood.max((1, 2), keepdims=True))
    first, second = _own_draws(counts, valid[0])
    fa = _hand_masks(card_knowledge[0], valid[0]) * first * second * evidence[0]
    gb = _hand_masks(card_knowledge[1], valid[1]) * evidence[1]
    # W(a, b) = (a's own draws) * (alpha - x) * (beta - y): alpha, beta are b's own draws and
    # x = n_a(b0), y = n_a(b1) the copies a takes from them (zero for b's empty slots).
    alpha, beta = _own_draws(counts, valid[1])

    # b's marginal: sum_a fa(a) (alpha - x)(beta - y), from sums of fa(a) n_a(u) [n_a(v)].
    a_first, a_second = fa.sum(1), fa.sum(0)
    s1 = va[0] * a_first + va[1] * a_second
    s2 = jnp.diag(s1) + va[0] * va[1] * (fa + fa.T)
    joint_b = gb * (alpha * beta * fa.sum() - vb[1] * alpha * s1[None, :]
                    - vb[0] * beta * s1[:, None] + vb[0] * vb[1] * s2)

    # a's marginal: sum_b gb(b) (alpha - x)(beta - y) as a function of a's two cards.
    copy_weight = vb[1] * jnp.sum(gb * alpha, axis=0) + vb[0] * jnp.sum(gb * beta, axis=1)
    g = vb[0] * vb[1] * gb
    both = (va[0] * jnp.diag(g)[:, None] + va[1] * jnp.diag(g)[None, :]
            + va[0] * va[1] * (g + g.T))
    joint_a = fa * (jnp.sum(gb * alpha * beta)
                    - (va[0] * copy_weight[:, None] + va[1] * copy_weight[None, :]) + both)

    joint = jnp.stack([joint_a, joint_b]) / joint_a.sum()
    marginals = jnp.stack([joint.sum(2), joint.sum(1)], axis=1)
    return jnp.where(valid[..., None], marginals, 0.0), joint


def reveal(log_likelihood: jax.Array, seat: jax.Array, slot: jax.Array,
           card: jax.Array) -> jax.Array:
    """`seat`'s joint log-likelihood after its card in `slot` was seen to be `card`: the other
    card moves to slot 0 and the new card in slot 1 has no evidence yet."""
    rows = log_likelihood[seat]
    kept = jnp.where(slot == 0, rows[card, :], rows[:, card])
    return log_likelihood.at[seat].set(jnp.broadcast_to(kept[:, None], rows.shape))


def joint_partner_log_likelihood(config: AgentConfig, policy: hanabi_network.Params,
                                 public_input: jax.Array, legal_actions: jax.Array,
                                 valid: jax.Array, action: jax.Array,
                                 public: jax.Array | None = None) -> jax.Array:
    """log L [values, values]: the played action's probability for every joint hand of the
    partner, floored; `valid` [hand_size] marks its occupied slots (`public`: the public
    pre-activation, as in `hanabi_network.counterfactual_logits`)."""
    game = config.game
    values = jnp.arange(game.num_values)
    hands = jnp.where(valid, jnp.stack(jnp.meshgrid(values, values, indexing="ij"), -1), -1)
    legal = jax.vmap(jax.vmap(lambda hand: hanabi_likelihood.hand_legal_actions(
        game, legal_actions, hand[None])))(hands)
    logits = hanabi_network.joint_hand_logits(config, policy, public_input, valid, public)
    probability = jax.nn.softmax(hanabi_network.masked(logits, legal))[..., action]
    return hanabi_likelihood.floored_log(config, probability)


def track_joint_likelihood(config: AgentConfig, log_likelihood: jax.Array, partner: jax.Array,
                           evidence: jax.Array) -> jax.Array:
    """Adds a move's `evidence` [values, values] to the partner's joint hands, kept within
    `[min_log_likelihood, 0]` of each player's maximum."""
    log_likelihood = log_likelihood.at[partner].add(evidence)
    log_likelihood = log_likelihood - log_likelihood.max((1, 2), keepdims=True)
    return jnp.maximum(log_likelihood, config.min_log_likelihood)


def sample_joint_hand(key: jax.Array, joint: jax.Array, valid: jax.Array) -> jax.Array:
    """int32 [1, 1, hand_size]: one partner hand drawn from its joint posterior [values,
    values], -1 for empty slots."""
    num_values = joint.shape[0]
    index = sampling.draw(key, joint.reshape(-1), ())
    hand = jnp.stack([index // num_values, index % num_values])
    return jnp.where(valid, hand, -1).astype(jnp.int32)[None, None]
