"""The Bayesian Action Decoder (BAD) agent for Hanabi, and the independent (IPPO) baseline.

Both agents share one network and one code path; `AgentConfig.method` picks the variant.

* `ippo`: the acting player's policy sees its own canonical observation (the public part and the
  partners' hands) and samples its action; the critic sees the same observation.
* `bad`: the public agent's input is the public observation and the public belief over every
  hand slot (`bad.hanabi_belief.bb_belief`, built from the hint masks, the remaining card counts
  and the tracked BAD likelihoods). It maps every possible private observation (the partners'
  hands) to action logits; one key shared by all players draws Gumbel noise `g` and the action
  for a private observation `f` is `argmax(logits(f) + g)`, a deterministic partial policy that
  everyone can evaluate. The acting player plays it on the real partners' hands. The critic is
  centralised: it also sees every hand, the actor's own included.

The BAD likelihood. After the actor plays `u`, every partner slot `i` and value `v` gets the
factor `L(i, v) = P(u | hands with slot i holding v)`. The other partner slots must be filled
with something every player can compute: the receiving player does not know its own other cards.
We fill them with `likelihood_samples` hands sampled from the public belief with the shared key
and average `L` over them. `L` is the probability of `u` under the policy, i.e. the Gumbel partial
policy marginalised over its noise: with sampled neighbours the hard indicator
`1[argmax(logits + g) == u]` would often rule out the real card, which no later evidence can
revive. One sample makes the belief overconfident, because the policy is sharper on the sample
than it is on average over the neighbours the real hand may hold: in the games of a Full agent
trained for 16M steps, own cards that BB gave a probability of 0.9-0.99 (0.95 on average) of
being playable were playable 86% of the time with one sample and 96% with 16 (see the README).
`L` is floored at
`likelihood_floor` for the same reason. Per slot the log-likelihoods add up over moves, follow
their card as it moves down the hand (`bad.hanabi_belief.drop_slot`), start at zero for a newly
dealt card, and are kept within `[min_log_likelihood, 0]` of the slot's maximum.

Card status. Whether a card is playable, dead (already played, or a lower rank of its colour is
all discarded) or critical (its last copy) depends on the fireworks and the discards, so in the
one-hot inputs "the hinted card is playable" is a different pattern at every fireworks level, and
a policy trained on the first levels does not carry over to the next (self-play stalls at exactly
the score it can reach). Both agents therefore also see, for every hand slot, the probability of
each status under the public belief (V0 for IPPO, BB for BAD), and the first layer gives every
partner card, besides its value row, a learned row per slot and status, read from the fireworks
and discards in the public observation (`card_status`).

The exact belief (`exact_belief`, two players with two-card hands such as small). The public
belief is then the exact posterior over both joint hands (`bad.hanabi_exact_belief`): the tracked
likelihood is one table per player over its joint hands, and after each move the partner's table
gains `P(u | partner hand)` for every one of its joint hands (`joint_partner_log_likelihood`, one
rank-two change of the pre-activation per hand, no public samples). The per-slot marginals take
BB's place in the public input, and the counterfactual gradient's public sample is a whole hand
drawn from the partner's joint posterior.

Speed. The first layer is linear in the one-hot cards, so the pre-activation of the sampled hand
with slot `i` set to `v` is `z(sample) - W[i, sample_i] + W[i, v]`: all `(players-1) * hand_size
* values` counterfactual hands cost one rank-one change each instead of a forward pass.

Counterfactual gradients. The public agent's action is the whole partial policy, whose
log-probability is `sum_f log pi(pi_hat(f) | f)` over every private observation `f`: it changes
the belief, not only the action played. We weight the private observations by the public belief
and estimate that term with the public sample `f_s`, the likelihood's first sample: the
decision's log-probability is `log pi(u | f_real) + cf_weight * log pi(pi_hat(f_s) | f_s)`
(`log_prob`). The learner needs two forward passes per move, not one per counterfactual hand.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np

from bad import hanabi_belief, hanabi_exact_belief
from games import hanabi_jax
from games.hanabi_config import HanabiConfig

METHODS = ("bad", "ippo")
NUM_STATUSES = 3  # playable, dead, critical (`card_status`)
_NEG = -1e9  # logit of an illegal action; finite so that masked softmaxes never give NaN.

Params = dict


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """The agent's static settings (hashable: a static argument to `jax.jit`)."""

    game: HanabiConfig
    method: str = "bad"
    hidden_sizes: tuple[int, ...] = (256,)
    likelihood_floor: float = 0.01
    min_log_likelihood: float = -15.0
    cf_weight: float = 1.0
    likelihood_samples: int = 1  # public hands the BAD likelihood is averaged over
    v2_alpha: float = 0.0  # BAD's public belief: BB when 0, else V2 = (1 - a) * BB + a * V1.
    exact_belief: bool = False  # BAD: the exact joint belief of 2-card hands instead of BB

    def __post_init__(self):
        if self.exact_belief:
            if not self.is_bad:
                raise ValueError("exact_belief applies to method 'bad' only.")
            if self.v2_alpha > 0 or self.likelihood_samples != 1:
                raise ValueError("v2_alpha and likelihood_samples apply to the factorised belief, "
                                 "not to exact_belief.")
            hanabi_exact_belief.check_supported(self.game)

    @property
    def is_bad(self) -> bool:
        return self.method == "bad"

    @property
    def belief_name(self) -> str:
        """Which belief `public_belief` is: "bb", "v2" or "exact"."""
        if self.exact_belief:
            return "exact"
        return "v2" if self.v2_alpha > 0 else "bb"

    @property
    def belief_size(self) -> int:
        return self.game.players * self.game.hand_size * self.game.num_values

    @property
    def status_size(self) -> int:
        """Per hand slot: probability of each status (`card_status_features`)."""
        return self.game.players * self.game.hand_size * NUM_STATUSES

    @property
    def public_input_size(self) -> int:
        """Public observation, the public belief (BAD only) and the card status features."""
        return (self.game.public_size + (self.belief_size if self.is_bad else 0)
                + self.status_size)

    @property
    def critic_input_size(self) -> int:
        """Public input plus every hand (BAD, centralised) or the partners' hands (IPPO)."""
        hands = self.belief_size if self.is_bad else self.game.private_size
        return self.public_input_size + hands


class Observation(NamedTuple):
    """What the acting player's agent is given about one game (public facts and its private view)."""

    public_observation: jax.Array  # float [public_size], the acting player's
    partner_hands: jax.Array       # int [players - 1, hand_size]: values by seat offset, -1 empty
    card_knowledge: jax.Array      # bool [players, hand_size, values], absolute seats
    remaining_counts: jax.Array    # int [values]
    legal_actions: jax.Array       # bool [num_actions]
    current_player: jax.Array      # int []


class Decision(NamedTuple):
    """An `act` call's action and what the learner and the belief tracking need of it.

    For IPPO the counterfactual fields are None.
    """

    action: jax.Array                 # int32 []
    log_prob: jax.Array               # float [], `log_prob` of the decision
    public_input: jax.Array           # float [public_input_size]
    belief: Optional[jax.Array]       # float [players, hand_size, values], absolute seats
    log_likelihood: jax.Array         # the tracked log-likelihoods after this move
    sample_hands: Optional[jax.Array]  # int32 [players - 1, hand_size], the public sample
    sample_action: Optional[jax.Array]  # int32 [], the partial policy's action on the sample


# ------------------------------------------------------------------------------------------
# Observations.


def relative_rows(rows: jax.Array, seat: jax.Array) -> jax.Array:
    """`rows` [players, ...] in seat order starting at `seat`."""
    players = rows.shape[0]
    return jnp.take(rows, (seat + jnp.arange(players)) % players, axis=0)


def observe(game: HanabiConfig, state: hanabi_jax.HanabiState) -> Observation:
    """The acting player's `Observation` of a JAX Hanabi game."""
    seat = state.current_player.astype(jnp.int32)
    return Observation(
        public_observation=hanabi_jax.public_observation(game, state, seat),
        partner_hands=relative_rows(state.hands.astype(jnp.int32), seat)[1:],
        card_knowledge=hanabi_jax.card_knowledge(game, state),
        remaining_counts=hanabi_jax.remaining_counts(game, state),
        legal_actions=hanabi_jax.legal_actions_mask(game, state),
        current_player=seat,
    )


def hands_from_private(game: HanabiConfig, private_observation: jax.Array) -> jax.Array:
    """Partner hands int32 [..., players - 1, hand_size] (-1 empty) from private observations."""
    one_hot = private_observation.reshape(*private_observation.shape[:-1], game.players - 1,
                                          game.hand_size, game.num_values)
    return jnp.where(one_hot.max(-1) > 0, jnp.argmax(one_hot, -1), -1).astype(jnp.int32)


def observe_batch(game: HanabiConfig, public_observation, private_observation, card_knowledge,
                  remaining_counts, legal_actions, current_player) -> Observation:
    """`Observation`s of a batch from `games.hanabi.HanabiStep` arrays (every player's views)."""
    rows = np.arange(len(current_player))
    return Observation(
        public_observation=jnp.asarray(public_observation[rows, current_player]),
        partner_hands=hands_from_private(game, jnp.asarray(private_observation[rows,
                                                                              current_player])),
        card_knowledge=jnp.asarray(card_knowledge),
        remaining_counts=jnp.asarray(remaining_counts, jnp.int32),
        legal_actions=jnp.asarray(legal_actions),
        current_player=jnp.asarray(current_player, jnp.int32),
    )


def one_hot_hands(game: HanabiConfig, hands: jax.Array) -> jax.Array:
    """float [rows * hand_size * values]: one-hot cards of hands [rows, hand_size], -1 empty."""
    return (hands[..., None] == jnp.arange(game.num_values)).astype(jnp.float32).reshape(-1)


def _board_offsets(game: HanabiConfig) -> tuple[int, int]:
    """Where the fireworks bits and the discard bits start in the public observation.

    The public observation starts with the hands section's `players` missing-card bits, then the
    board (deck thermometer, one one-hot row of `ranks` bits per colour for the fireworks, the
    information and life thermometers), then the discards (per value, a thermometer over its
    copies)."""
    fireworks = game.players + game.deck_size - game.players * game.hand_size
    discards = (fireworks + game.colors * game.ranks + game.max_information_tokens
                + game.max_life_tokens)
    return fireworks, discards


def _copies(game: HanabiConfig) -> np.ndarray:
    """int [values]: copies of each card value in the deck."""
    return np.array([game.copies_of_rank(value % game.ranks) for value in range(game.num_values)])


def fireworks_of(game: HanabiConfig, public_input: jax.Array) -> jax.Array:
    """float [colors]: cards played per colour, read from the public observation."""
    start, _ = _board_offsets(game)
    bits = public_input[start:start + game.colors * game.ranks].reshape(game.colors, game.ranks)
    return bits @ jnp.arange(1.0, game.ranks + 1)


def discards_of(game: HanabiConfig, public_input: jax.Array) -> jax.Array:
    """float [values]: discarded (or misplayed) copies of each value, from the public observation."""
    _, start = _board_offsets(game)
    owner = np.repeat(np.arange(game.num_values), _copies(game))
    per_value = (owner[:, None] == np.arange(game.num_values)).astype(np.float32)
    return public_input[start:start + len(owner)] @ per_value


def card_status(game: HanabiConfig, public_input: jax.Array) -> jax.Array:
    """float [values, NUM_STATUSES]: per card value, 1 where it is playable now, dead (already
    played, or a lower rank of its colour has no copy left) and critical (not dead, one copy left).
    """
    c, r = game.colors, game.ranks
    level = fireworks_of(game, public_input)[:, None]                       # [c, 1]
    rank = jnp.arange(r, dtype=jnp.float32)[None]                           # [1, r]
    copies = _copies(game).reshape(c, r)
    left = copies - discards_of(game, public_input).reshape(c, r)           # [c, r]
    # Rank r is unreachable when some rank in [level, r) has no copy left.
    below = (rank[:, :, None] >= level[:, :, None]) & (rank[:, :, None] < rank[:, None, :])
    blocked = jnp.any(below & (left[:, :, None] <= 0), axis=1)              # [c, r]
    playable = rank == level
    dead = (rank < level) | blocked
    critical = ~dead & (left == 1)
    status = jnp.stack([playable, dead, critical], axis=-1)
    return status.reshape(game.num_values, NUM_STATUSES).astype(jnp.float32)


def card_status_features(game: HanabiConfig, belief: jax.Array, seat: jax.Array,
                         public_input: jax.Array) -> jax.Array:
    """float [players * hand_size * NUM_STATUSES]: per slot (seats from `seat`), the probability
    of each status under `belief`."""
    return (relative_rows(belief, seat) @ card_status(game, public_input)).reshape(-1)


# ------------------------------------------------------------------------------------------
# Beliefs and likelihood tracking.


def initial_log_likelihood(config: AgentConfig) -> jax.Array:
    """No evidence yet: float [players, hand_size, values] per slot, or with the exact belief
    [players, values, values] per joint hand."""
    game = config.game
    if config.exact_belief:
        return hanabi_exact_belief.initial_log_likelihood(game)
    return jnp.zeros((game.players, game.hand_size, game.num_values), jnp.float32)


def last_removal(game: HanabiConfig, public_observation: jax.Array
                 ) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """(whether the last move played or discarded a card, the mover's seat offset from the
    observer, the card's slot, its value), read from the observation's last-move section."""
    _, discards = _board_offsets(game)
    mover = discards + game.deck_size
    slot = mover + 2 * game.players + 4 + game.colors + game.ranks + game.hand_size
    card = slot + game.hand_size
    slot_bits = public_observation[slot:card]
    return (slot_bits.sum() > 0, jnp.argmax(public_observation[mover:mover + game.players]),
            jnp.argmax(slot_bits), jnp.argmax(public_observation[card:card + game.num_values]))


def _exact_public_state(config: AgentConfig, observation: Observation, log_likelihood: jax.Array
                        ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The exact belief's (joint log-likelihoods with the last move's card revealed, per-slot
    marginals [players, hand_size, values], joint posteriors [players, values, values])."""
    removed, offset, slot, card = last_removal(config.game, observation.public_observation)
    seat = (observation.current_player + offset) % config.game.players
    revealed = hanabi_exact_belief.reveal(log_likelihood, seat, slot, card)
    log_likelihood = jnp.where(removed, revealed, log_likelihood)
    belief, joint = hanabi_exact_belief.exact_belief(
        observation.card_knowledge, observation.remaining_counts, log_likelihood)
    return log_likelihood, belief, joint


def public_belief(config: AgentConfig, observation: Observation,
                  log_likelihood: jax.Array) -> jax.Array:
    """BAD's public belief [players, hand_size, values] (absolute seats) from the public facts:
    BB, V2 when `config.v2_alpha > 0`, or the exact belief."""
    if config.exact_belief:
        return _exact_public_state(config, observation, log_likelihood)[1]
    likelihood = jnp.exp(log_likelihood)
    if config.v2_alpha > 0:
        return hanabi_belief.v2_belief(observation.card_knowledge, observation.remaining_counts,
                                       likelihood, config.v2_alpha)
    return hanabi_belief.bb_belief(observation.card_knowledge, observation.remaining_counts,
                                   likelihood)


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
    shifted = hanabi_belief.drop_slot(log_likelihood, move.slot)
    is_actor = (jnp.arange(game.players) == actor)[:, None, None]
    return jnp.where(is_actor & (move.is_play | move.is_discard), shifted, log_likelihood)


def sample_hands(key: jax.Array, belief: jax.Array, valid: jax.Array,
                 num_samples: int = 1) -> jax.Array:
    """int32 [num_samples, rows, hand_size]: each slot's value drawn from its belief [rows,
    hand_size, values], -1 for empty slots."""
    logits = jnp.log(jnp.maximum(belief, 1e-30))
    values = jax.random.categorical(key, logits, axis=-1, shape=(num_samples, *valid.shape))
    return jnp.where(valid, values, -1).astype(jnp.int32)


# ------------------------------------------------------------------------------------------
# The network: a first layer linear in the inputs, then ReLU layers.


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
    private observation), `status` [players - 1, hand_size, NUM_STATUSES, h1] (each partner
    slot's row per card status), `bias` [h1], then `layers`, a list of dense layers to the
    logits.
    critic: a list of dense layers from the critic input to one value.
    """
    game = config.game
    policy_key, private_key, status_key, layers_key, critic_key = jax.random.split(key, 5)
    h1 = config.hidden_sizes[0]
    scale = np.sqrt(2.0 / (config.public_input_size + game.private_size))
    return {
        "policy": {
            "public": jax.random.normal(policy_key, (config.public_input_size, h1)) * scale,
            "private": jax.random.normal(private_key, (game.private_size, h1)) * scale,
            "status": jax.random.normal(status_key,
                                        (game.players - 1, game.hand_size, NUM_STATUSES, h1))
            * scale,
            "bias": jnp.zeros(h1),
            "layers": _mlp_init(layers_key, [*config.hidden_sizes, game.num_actions], 0.01),
        },
        "critic": _mlp_init(critic_key, [config.critic_input_size, *config.hidden_sizes, 1], 1.0),
    }


def _apply_layers(layers: list[dict], x: jax.Array) -> jax.Array:
    """ReLU on the input, then dense layers with ReLU between them (none after the last)."""
    for layer in layers:
        x = jax.nn.relu(x) @ layer["w"] + layer["b"]
    return x


def public_preactivation(policy: Params, public_input: jax.Array) -> jax.Array:
    """The first layer's public part plus its bias: [h1]."""
    return public_input @ policy["public"] + policy["bias"]


def _value_weights(config: AgentConfig, policy: Params) -> jax.Array:
    game = config.game
    return policy["private"].reshape(game.players - 1, game.hand_size, game.num_values, -1)


def _private_weights(config: AgentConfig, policy: Params, status: jax.Array) -> jax.Array:
    """[players - 1, hand_size, values, h1]: each possible partner card's first-layer row: its
    value's row plus its slot's rows for the statuses (`card_status`, [values, NUM_STATUSES])."""
    # Three broadcast multiply-adds, not an einsum: XLA fuses them into the consumers, where a
    # per-game dot of contraction size NUM_STATUSES was the slowest op of the whole update.
    rows = _value_weights(config, policy)
    for s in range(NUM_STATUSES):
        rows = rows + status[:, s, None] * policy["status"][:, :, s, None, :]
    return rows


def _slot_rows(rows: jax.Array, hands: jax.Array) -> jax.Array:
    """[players - 1, hand_size, ...]: the entry of `rows` [players - 1, hand_size, values, ...]
    for each card of `hands`, zero for an empty slot."""
    picked = jnp.take_along_axis(rows, jnp.maximum(hands, 0)[:, :, None, None], axis=2)[:, :, 0]
    return jnp.where((hands >= 0)[..., None], picked, 0.0)


def policy_logits(config: AgentConfig, policy: Params, public_input: jax.Array,
                  partner_hands: jax.Array) -> jax.Array:
    """Action logits [num_actions] for the given partners' hands: one whole forward pass."""
    status = card_status(config.game, public_input)[jnp.maximum(partner_hands, 0)]
    # Here, one row per slot, the einsum is the fast form (broadcast multiply-adds measured
    # several times slower in the learner's backward pass).
    private = (_slot_rows(_value_weights(config, policy), partner_hands)
               + jnp.where((partner_hands >= 0)[..., None],
                           jnp.einsum("ois,oish->oih", status, policy["status"]), 0.0))
    return _apply_layers(policy["layers"],
                         public_preactivation(policy, public_input) + private.sum((0, 1)))


def counterfactual_logits(config: AgentConfig, policy: Params, public_input: jax.Array,
                          hands: jax.Array) -> jax.Array:
    """Logits [players - 1, hand_size, values, num_actions] of `hands` with one slot changed.

    Entry `[o, i, v]` is the policy on `hands` with partner `o`'s slot `i` holding value `v`,
    computed as a rank-one change of the first layer's pre-activation.
    """
    weights = _private_weights(config, policy, card_status(config.game, public_input))
    slot_rows = _slot_rows(weights, hands)
    base = public_preactivation(policy, public_input) + slot_rows.sum((0, 1))
    return _apply_layers(policy["layers"], (base - slot_rows[:, :, None, :]) + weights)


def critic_value(config: AgentConfig, critic: list[dict], public_input: jax.Array,
                 hands: jax.Array) -> jax.Array:
    """Value []: `hands` are every hand (BAD) or the partners' (IPPO), from the actor's seat."""
    x = jnp.concatenate([public_input, one_hot_hands(config.game, hands)])
    return _apply_layers(critic, x)[0]  # the inputs are >= 0, so the leading ReLU is the identity


# ------------------------------------------------------------------------------------------
# Legal actions of counterfactual hands.


def hand_legal_actions(game: HanabiConfig, legal_actions: jax.Array,
                       hands: jax.Array) -> jax.Array:
    """bool [num_actions]: the legal actions had the partners held `hands` (-1 empty).

    Plays and discards depend only on public facts, so they are the real ones. A hint is legal
    when information tokens remain (some hint is legal in the real game) and the target holds a
    card of the hinted colour or rank.
    """
    h, c, r = game.hand_size, game.colors, game.ranks
    valid = (hands >= 0)[..., None]
    can_hint = legal_actions[2 * h:].any()
    colours = jnp.any(valid & (hands[..., None] // r == jnp.arange(c)), axis=1)
    ranks = jnp.any(valid & (hands[..., None] % r == jnp.arange(r)), axis=1)
    return jnp.concatenate([legal_actions[:2 * h], colours.reshape(-1) & can_hint,
                            ranks.reshape(-1) & can_hint])


def counterfactual_legal_actions(game: HanabiConfig, legal_actions: jax.Array,
                                 hands: jax.Array) -> jax.Array:
    """bool [players - 1, hand_size, values, num_actions]: `hand_legal_actions` of `hands` with
    partner `o`'s slot `i` set to value `v`, for every `[o, i, v]`."""
    h, c, r, others = game.hand_size, game.colors, game.ranks, game.players - 1
    valid = hands >= 0
    can_hint = legal_actions[2 * h:].any()

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
    moves = jnp.broadcast_to(legal_actions[:2 * h], (others, h, game.num_values, 2 * h))
    return jnp.concatenate([moves, (colors & can_hint), (ranks & can_hint)], axis=-1)


# ------------------------------------------------------------------------------------------
# Acting and log-probabilities.


def _masked(logits: jax.Array, legal: jax.Array) -> jax.Array:
    return jnp.where(legal, logits, _NEG)


def public_input_of(config: AgentConfig, observation: Observation,
                    belief: Optional[jax.Array]) -> jax.Array:
    """The public agent's input: the public observation, for BAD the BB belief, then the card
    status features under that belief (under V0 for IPPO); slots from the actor's seat."""
    game, seat, public = config.game, observation.current_player, observation.public_observation
    if not config.is_bad:
        v0 = hanabi_belief.v0_belief(observation.card_knowledge, observation.remaining_counts)
        return jnp.concatenate([public, card_status_features(game, v0, seat, public)])
    return jnp.concatenate([public, relative_rows(belief, seat).reshape(-1),
                            card_status_features(game, belief, seat, public)])


def partner_belief(config: AgentConfig, public_input: jax.Array) -> jax.Array:
    """The belief over the partners' slots [players - 1, hand_size, values], from the input."""
    game = config.game
    belief = public_input[game.public_size:game.public_size + config.belief_size].reshape(
        game.players, game.hand_size, game.num_values)
    return belief[1:]


def _decision_log_prob(config: AgentConfig, logits: jax.Array, action: jax.Array,
                       sample_logits: Optional[jax.Array],
                       sample_action: Optional[jax.Array]) -> jax.Array:
    """`log pi(u | f_real)`, plus for BAD `cf_weight * log pi(pi_hat(f_sample) | f_sample)`."""
    total = jax.nn.log_softmax(logits)[action]
    if config.is_bad:
        total = total + config.cf_weight * jax.nn.log_softmax(sample_logits)[sample_action]
    return total


def _real_and_sample_logits(config: AgentConfig, policy: Params, public_input: jax.Array,
                            partner_hands: jax.Array, legal_actions: jax.Array,
                            sample: Optional[jax.Array]) -> tuple[jax.Array, Optional[jax.Array]]:
    """Masked logits of the real partners' hands and, for BAD, of the public sample."""
    logits = _masked(policy_logits(config, policy, public_input, partner_hands), legal_actions)
    if not config.is_bad:
        return logits, None
    sample_legal = hand_legal_actions(config.game, legal_actions, sample)
    return logits, _masked(policy_logits(config, policy, public_input, sample), sample_legal)


def log_prob(config: AgentConfig, params: Params, public_input: jax.Array,
             partner_hands: jax.Array, legal_actions: jax.Array, action: jax.Array,
             sample: Optional[jax.Array], sample_action: Optional[jax.Array]
             ) -> tuple[jax.Array, jax.Array]:
    """(log-probability of the decision, entropy of the real policy); see the module docstring."""
    logits, sample_logits = _real_and_sample_logits(config, params["policy"], public_input,
                                                    partner_hands, legal_actions, sample)
    log_probs = jax.nn.log_softmax(logits)
    entropy = -jnp.sum(jnp.exp(log_probs) * jnp.where(legal_actions, log_probs, 0.0))
    return _decision_log_prob(config, logits, action, sample_logits, sample_action), entropy


def partner_log_likelihood(config: AgentConfig, policy: Params, public_input: jax.Array,
                           legal_actions: jax.Array, samples: jax.Array,
                           action: jax.Array) -> jax.Array:
    """log L [players - 1, hand_size, values]: the played action's probability with each partner
    slot set to each value, the other slots those of each public sample (`samples` [K,
    players - 1, hand_size]), averaged over the samples and floored (0 for empty slots)."""

    def likelihood(sample: jax.Array) -> jax.Array:
        cf_logits = _masked(counterfactual_logits(config, policy, public_input, sample),
                            counterfactual_legal_actions(config.game, legal_actions, sample))
        return jax.nn.softmax(cf_logits)[..., action]

    mean = jax.vmap(likelihood)(samples).mean(0)
    floor = config.likelihood_floor
    return jnp.where((samples[0] >= 0)[..., None], jnp.log(floor + (1.0 - floor) * mean), 0.0)


def joint_partner_log_likelihood(config: AgentConfig, policy: Params, public_input: jax.Array,
                                 legal_actions: jax.Array, valid: jax.Array,
                                 action: jax.Array) -> jax.Array:
    """log L [values, values] (exact belief, one partner): the played action's probability for
    every joint hand of the partner, floored; `valid` [hand_size] marks its occupied slots."""
    game = config.game
    weights = _private_weights(config, policy, card_status(game, public_input))[0]
    second = jnp.where(valid[1], weights[1], 0.0)
    pre = (public_preactivation(policy, public_input)
           + weights[0][:, None, :] + second[None, :, :])
    values = jnp.arange(game.num_values)
    hands = jnp.where(valid, jnp.stack(jnp.meshgrid(values, values, indexing="ij"), -1), -1)
    legal = jax.vmap(jax.vmap(lambda hand: hand_legal_actions(game, legal_actions,
                                                              hand[None])))(hands)
    probability = jax.nn.softmax(_masked(_apply_layers(policy["layers"], pre), legal))[..., action]
    floor = config.likelihood_floor
    return jnp.log(floor + (1.0 - floor) * probability)


def track_joint_likelihood(config: AgentConfig, log_likelihood: jax.Array, partner: jax.Array,
                           evidence: jax.Array) -> jax.Array:
    """Adds a move's `evidence` [values, values] to the partner's joint hands (exact belief),
    kept within `[min_log_likelihood, 0]` of each player's maximum."""
    log_likelihood = log_likelihood.at[partner].add(evidence)
    log_likelihood = log_likelihood - log_likelihood.max((1, 2), keepdims=True)
    return jnp.maximum(log_likelihood, config.min_log_likelihood)


def _sample_joint_hand(key: jax.Array, joint: jax.Array, valid: jax.Array) -> jax.Array:
    """int32 [1, 1, hand_size]: one partner hand drawn from its joint posterior [values,
    values], -1 for empty slots."""
    num_values = joint.shape[0]
    index = jax.random.categorical(key, jnp.log(jnp.maximum(joint.reshape(-1), 1e-30)))
    hand = jnp.stack([index // num_values, index % num_values])
    return jnp.where(valid, hand, -1).astype(jnp.int32)[None, None]


def act(config: AgentConfig, params: Params, observation: Observation,
        log_likelihood: jax.Array, key: jax.Array, greedy: bool = False) -> Decision:
    """The acting player's move in one game (`key` is shared by all players).

    `greedy` (for evaluation) drops the Gumbel noise: the action is the most likely one. The
    likelihoods fed to the belief stay the policy's probabilities, as in training.
    """
    noise_key, sample_key = jax.random.split(key)
    policy = params["policy"]
    partner_valid = observation.partner_hands >= 0
    partner_seat = (observation.current_player + 1) % config.game.players  # exact: 2 players
    belief = joint = None
    if config.exact_belief:
        log_likelihood, belief, joint = _exact_public_state(config, observation, log_likelihood)
    elif config.is_bad:
        belief = public_belief(config, observation, log_likelihood)
    public_input = public_input_of(config, observation, belief)
    legal = observation.legal_actions
    sample = sample_action = None
    if config.exact_belief:
        samples = _sample_joint_hand(sample_key, joint[partner_seat], partner_valid[0])
    elif config.is_bad:
        samples = sample_hands(sample_key, partner_belief(config, public_input), partner_valid,
                               config.likelihood_samples)
    if config.is_bad:
        sample = samples[0]  # the counterfactual gradient's public sample
    logits, sample_logits = _real_and_sample_logits(config, policy, public_input,
                                                    observation.partner_hands, legal, sample)
    gumbel = jnp.zeros(legal.shape) if greedy else jax.random.gumbel(noise_key, legal.shape)
    action = jnp.argmax(logits + gumbel).astype(jnp.int32)
    if config.is_bad:
        sample_action = jnp.argmax(sample_logits + gumbel).astype(jnp.int32)
        if config.exact_belief:
            evidence = joint_partner_log_likelihood(config, policy, public_input, legal,
                                                    partner_valid[0], action)
            log_likelihood = track_joint_likelihood(config, log_likelihood, partner_seat,
                                                    evidence)
        else:
            evidence = partner_log_likelihood(config, policy, public_input, legal, samples,
                                              action)
            log_likelihood = track_likelihood(config, log_likelihood, observation.current_player,
                                              evidence, action)
    return Decision(action=action,
                    log_prob=_decision_log_prob(config, logits, action, sample_logits,
                                                sample_action),
                    public_input=public_input, belief=belief, log_likelihood=log_likelihood,
                    sample_hands=sample, sample_action=sample_action)
