"""The Bayesian Action Decoder (BAD) agent for Hanabi, and the independent (IPPO) baseline.

Both agents share one network (`bad.hanabi.network`) and one decision step; `AgentConfig.method`
picks the variant, and with it the public belief (`bad.hanabi.public_belief`).

* `ippo`: the acting player's policy sees its own canonical observation (the public part and the
  partners' hands) and samples its action; the critic sees the same observation.
* `bad`: the public agent's input is the public observation and the public belief over every
  hand slot (BB, V2 or, for two-card hands, the exact joint belief). It maps every possible
  private observation (the partners' hands) to action logits; one key shared by all players draws
  Gumbel noise `g` and the action for a private observation `f` is `argmax(logits(f) + g)`, a
  deterministic partial policy that everyone can evaluate. The acting player plays it on the real
  partners' hands, and everyone updates the belief with the probability of the move played
  (`bad.hanabi.likelihood`). The critic is centralised: it also sees every hand, the actor's own
  included.

Card status. Whether a card is playable, dead or critical depends on the fireworks and the
discards, so in the one-hot inputs "the hinted card is playable" is a different pattern at every
fireworks level, and a policy trained on the first levels does not carry over to the next. Both
agents therefore also see, for every hand slot, the probability of each status under their public
belief (V0 for IPPO), and the network gives every partner card a learned row per slot and status.

Counterfactual gradients. The public agent's action is the whole partial policy, whose
log-probability is `sum_f log pi(pi_hat(f) | f)` over every private observation `f`: it changes
the belief, not only the action played. We weight the private observations by the public belief
and estimate that term with the public sample `f_s`, the first of the belief's samples: the
decision's log-probability is `log pi(u | f_real) + cf_weight * log pi(pi_hat(f_s) | f_s)`
(`log_prob`). IPPO draws no sample, so the term is an empty sum.

The agent API. An agent is its `AgentConfig` plus parameters; its per-game state is the public
belief's evidence. Every function is pure and per game (`vmap` it over games):

* `public_context(config, observation, evidence, key)`: the belief, the public input and the
  public samples at a decision point, identical for every player given the same move key;
* `decide(...)`: the acting player's move (needs its private view, `Observation.partner_hands`);
* `observe(...)`: the evidence after the move actually played, by whichever player (reads only
  the public fields of the actor's `Observation`);
* `act(...)`: both at once with one context (self-play).

For a batch of games, `act_batch` and `observe_batch` (what the learner and the evaluation run)
vmap the context and the decision and update the belief a cache-sized chunk of games at a time;
compile them with `jit` (`COMPILER_OPTIONS`). Each game's numbers are those of the per-game
functions, within float32 rounding.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from bad.hanabi import likelihood as hanabi_likelihood
from bad.hanabi import network as hanabi_network
from bad.hanabi import public_belief as hanabi_public_belief
from bad.hanabi.agent_types import METHODS, AgentConfig, Observation  # noqa: F401 (the agent API names)
from bad.hanabi.network import Params
from games.hanabi import jax_game as hanabi_jax
from games.hanabi import rules as hanabi_rules
from games.hanabi.config import HanabiConfig


class PublicContext(NamedTuple):
    """What every player computes alike at a decision point (same evidence, same move key)."""

    belief: hanabi_public_belief.BeliefView
    public_input: jax.Array   # float [public_input_size]
    samples: jax.Array        # int32 [samples, players - 1, hand_size]: the public samples
    noise_key: jax.Array      # the partial policy's Gumbel noise
    # float [h1]: the policy's `hanabi_network.public_preactivation` of `public_input`, set by
    # `with_preactivation` so that the decision and the belief update compute it once (None:
    # each computes its own).
    public_preactivation: jax.Array | None = None


class Decision(NamedTuple):
    """A move and what the learner and the evaluation need of it."""

    action: jax.Array          # int32 []
    log_prob: jax.Array        # float [], `log_prob` of the decision
    public_input: jax.Array    # float [public_input_size]
    belief: jax.Array          # float [players, hand_size, values], absolute seats
    sample_hands: jax.Array    # int32 [cf, players - 1, hand_size]: the CF sample (cf = 0 or 1)
    sample_action: jax.Array   # int32 [cf]: the partial policy's action on it


def observation_from_state(game: HanabiConfig, state: hanabi_jax.HanabiState) -> Observation:
    """The acting player's `Observation` of a JAX Hanabi game."""
    seat = state.current_player.astype(jnp.int32)
    return Observation(
        public_observation=hanabi_jax.public_observation(game, state, seat),
        partner_hands=hanabi_rules.relative_rows(state.hands.astype(jnp.int32), seat)[1:],
        card_knowledge=hanabi_jax.card_knowledge(game, state),
        remaining_counts=hanabi_jax.remaining_counts(game, state),
        legal_actions=hanabi_jax.legal_actions_mask(game, state),
        current_player=seat,
    )


def observations_from_steps(game: HanabiConfig, public_observation, private_observation,
                            card_knowledge, remaining_counts, legal_actions,
                            current_player) -> Observation:
    """`Observation`s of a batch from `games.hanabi.HanabiStep` arrays (every player's views)."""
    rows = np.arange(len(current_player))
    partner_hands = hanabi_rules.partner_hands_from_private(
        game, jnp.asarray(private_observation[rows, current_player]))
    return Observation(
        public_observation=jnp.asarray(public_observation[rows, current_player]),
        partner_hands=partner_hands,
        card_knowledge=jnp.asarray(card_knowledge),
        remaining_counts=jnp.asarray(remaining_counts, jnp.int32),
        legal_actions=jnp.asarray(legal_actions),
        current_player=jnp.asarray(current_player, jnp.int32),
    )


def initial_evidence(config: AgentConfig) -> jax.Array:
    """The evidence of a new game (the public belief's per-game state)."""
    return hanabi_public_belief.public_belief_of(config).initial_evidence()


def status_features(config: AgentConfig, belief: jax.Array, seat: jax.Array,
                    public_input: jax.Array) -> jax.Array:
    """float [players * hand_size * NUM_CARD_STATUSES]: per slot (seats from `seat`), the
    probability of each card status under `belief`."""
    status = hanabi_network.card_status_of(config, public_input)
    return (hanabi_rules.relative_rows(belief, seat) @ status).reshape(-1)


def check_observation(config: AgentConfig, observation: Observation) -> None:
    """Raises (chex's `AssertionError`, at trace time) unless `observation` is one game's
    `Observation` of `config.game`: a vmapped caller passes per-game shapes."""
    game = config.game
    chex.assert_shape(observation.public_observation, (game.public_size,))
    chex.assert_shape(observation.partner_hands, (game.players - 1, game.hand_size))
    chex.assert_shape(observation.card_knowledge, (game.players, game.hand_size, game.num_values))
    chex.assert_shape(observation.remaining_counts, (game.num_values,))
    chex.assert_shape(observation.legal_actions, (game.num_actions,))
    chex.assert_rank(observation.current_player, 0)
    chex.assert_type([observation.partner_hands, observation.remaining_counts,
                      observation.current_player], int)


def public_view(config: AgentConfig, observation: Observation, evidence: jax.Array
                ) -> tuple[hanabi_public_belief.BeliefView, jax.Array]:
    """The public belief and the public input (public observation, the belief as the agent sees
    it, card status features), from public facts alone."""
    check_observation(config, observation)
    belief_kind = hanabi_public_belief.public_belief_of(config)
    seat, public = observation.current_player, observation.public_observation
    belief = belief_kind.view(observation, evidence)
    public_input = jnp.concatenate([public, belief_kind.input_features(belief, seat),
                                    status_features(config, belief.marginals, seat, public)])
    return belief, public_input


def public_context(config: AgentConfig, observation: Observation, evidence: jax.Array,
                   key: jax.Array) -> PublicContext:
    """`public_view` and the public samples drawn with the move's `key`."""
    noise_key, sample_key = jax.random.split(key)
    belief, public_input = public_view(config, observation, evidence)
    samples = hanabi_public_belief.public_belief_of(config).sample_partner_hands(
        sample_key, belief, observation)
    return PublicContext(belief, public_input, samples, noise_key)


def with_preactivation(params: Params, context: PublicContext) -> PublicContext:
    """`context` with its `public_preactivation` under `params`' policy."""
    return context._replace(public_preactivation=hanabi_network.public_preactivation(
        params["policy"], context.public_input))


def _counterfactual_samples(samples: jax.Array) -> jax.Array:
    """The counterfactual gradient's public samples: the first one, if any."""
    return samples[:1]


def _decision_logits(config: AgentConfig, policy: Params, public_input: jax.Array,
                     legal_actions: jax.Array, partner_hands: jax.Array,
                     sample_hands: jax.Array, public: jax.Array | None = None
                     ) -> tuple[jax.Array, list[jax.Array]]:
    """Masked logits of the real hands and of each counterfactual sample (a static count of 0
    or 1), sharing one public pre-activation (`hanabi_network.hands_logits`; `public` where
    the caller has it)."""
    logits, *sample_logits = hanabi_network.hands_logits(
        config, policy, public_input, [partner_hands, *sample_hands], public)
    return (hanabi_network.masked(logits, legal_actions),
            [hanabi_network.masked(
                logits_s, hanabi_likelihood.hand_legal_actions(config.game, legal_actions, hands))
             for logits_s, hands in zip(sample_logits, sample_hands)])


def _decision_log_prob(config: AgentConfig, logits: jax.Array, action: jax.Array,
                       sample_logits: list[jax.Array], sample_action: jax.Array) -> jax.Array:
    """`log pi(u | f_real) + cf_weight * sum_s log pi(pi_hat(f_s) | f_s)`."""
    cf = sum(jax.nn.log_softmax(logits_s)[sample_action[s]]
             for s, logits_s in enumerate(sample_logits))
    return jax.nn.log_softmax(logits)[action] + config.cf_weight * cf


def decide(config: AgentConfig, params: Params, context: PublicContext,
           observation: Observation, greedy: bool = False) -> Decision:
    """The acting player's move at `context` (`public_context` of `observation`).

    `greedy` (for evaluation) drops the Gumbel noise: the action is the most likely one. The
    likelihoods fed to the belief stay the policy's probabilities, as in training.
    """
    check_observation(config, observation)
    policy, legal = params["policy"], observation.legal_actions
    sample_hands = _counterfactual_samples(context.samples)
    logits, sample_logits = _decision_logits(config, policy, context.public_input, legal,
                                             observation.partner_hands, sample_hands,
                                             context.public_preactivation)
    gumbel = (jnp.zeros(legal.shape) if greedy
              else jax.random.gumbel(context.noise_key, legal.shape))
    action = jnp.argmax(logits + gumbel).astype(jnp.int32)
    sample_action = jnp.stack([jnp.argmax(s + gumbel) for s in sample_logits]
                              ).astype(jnp.int32) if sample_logits else jnp.zeros(0, jnp.int32)
    return Decision(action=action,
                    log_prob=_decision_log_prob(config, logits, action, sample_logits,
                                                sample_action),
                    public_input=context.public_input, belief=context.belief.marginals,
                    sample_hands=sample_hands, sample_action=sample_action)


def observe(config: AgentConfig, params: Params, context: PublicContext,
            observation: Observation, action: jax.Array) -> jax.Array:
    """The evidence after the actor of `observation` played `action` (any player's move)."""
    check_observation(config, observation)
    chex.assert_rank(action, 0)
    belief_kind = hanabi_public_belief.public_belief_of(config)
    return belief_kind.observe(params["policy"], context.public_input, context.belief,
                               observation, context.samples, action,
                               context.public_preactivation)


def act(config: AgentConfig, params: Params, observation: Observation, evidence: jax.Array,
        key: jax.Array, greedy: bool = False) -> tuple[Decision, jax.Array]:
    """Self-play: the acting player's `Decision` and the evidence after it (`key` is the move's
    key, shared by all players)."""
    context = with_preactivation(params, public_context(config, observation, evidence, key))
    decision = decide(config, params, context, observation, greedy)
    return decision, observe(config, params, context, observation, decision.action)


# XLA:CPU's YNNPACK library fusions pull the elementwise work that builds BAD's counterfactual
# pre-activations into the matrix product that reads them, and that fused kernel ran slower than
# XLA's own loop followed by the product alone: a whole BAD update 16% slower on 2 and 3 players
# in interleaved rounds, IPPO the same. So the compiled functions that run `act_batch` keep library
# fusions to single matrix products; other backends ignore the option.
COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}


def jit(fun, **kwargs):
    """`jax.jit` with `COMPILER_OPTIONS`: for the learner's and the evaluation's functions."""
    return jax.jit(fun, compiler_options=COMPILER_OPTIONS, **kwargs)


# The counterfactual likelihoods of a chunk of games should stay in the cache: their
# pre-activations are [games, partner slots, values, h1] floats.
_CHUNK_BYTES = 8 * 2**20


def games_per_chunk(config: AgentConfig) -> int | None:
    """How many games `observe_batch` updates at once: as many as keep BAD's counterfactual
    pre-activations within `_CHUNK_BYTES` (None, all of them, for IPPO, which computes none)."""
    if not config.is_bad:
        return None
    game = config.game
    rows = (game.num_values ** 2 if config.exact_belief
            else (game.players - 1) * game.hand_size * game.num_values)
    return max(1, _CHUNK_BYTES // (4 * rows * config.hidden_sizes[0]))


def observe_batch(config: AgentConfig, params: Params, context: PublicContext,
                  observation: Observation, action: jax.Array) -> jax.Array:
    """`observe` for a batch of games (every argument but `params` has a leading games axis),
    `games_per_chunk(config)` games at a time (`jax.lax.map`).

    Vmapped over a whole batch, BAD's counterfactual likelihoods make batch-sized intermediates,
    and past the cache (and past the C allocator's 32 MiB threshold, above which every call maps
    fresh pages) the update ran several times slower per game. Each game's numbers are those of
    `observe`.
    """
    def observe_games(args):
        return observe(config, params, *args)

    per_game = (context, observation, action)
    games = action.shape[0]
    chunk = chunk_size(config, games)
    if chunk >= games:
        return jax.vmap(observe_games)(per_game)
    return jax.lax.map(observe_games, per_game, batch_size=chunk)


def chunk_size(config: AgentConfig, games: int) -> int:
    """The games `observe_batch` updates at once in a batch of `games`: at most
    `games_per_chunk(config)`, as many chunks as that needs, all of one size where it divides
    the games (4 of 64 rather than 3 of 65 and a remainder of 61, which compiles a second copy
    of the update)."""
    most = games_per_chunk(config)
    if most is None or most >= games:
        return games
    return -(-games // -(-games // most))


def act_batch(config: AgentConfig, params: Params, observation: Observation,
              evidence: jax.Array, key: jax.Array, greedy: bool = False
              ) -> tuple[Decision, jax.Array]:
    """`act` for a batch of games (every argument but `params` has a leading games axis): the
    context and the decision vmapped over the whole batch, the belief update by
    `observe_batch`."""
    context = jax.vmap(public_context, (None, 0, 0, 0))(config, observation, evidence, key)
    context = jax.vmap(with_preactivation, (None, 0))(params, context)
    decision = jax.vmap(decide, (None, None, 0, 0, None))(config, params, context, observation,
                                                          greedy)
    return decision, observe_batch(config, params, context, observation, decision.action)


def log_prob(config: AgentConfig, params: Params, public_input: jax.Array,
             partner_hands: jax.Array, legal_actions: jax.Array, action: jax.Array,
             sample_hands: jax.Array, sample_action: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(log-probability of the decision, entropy of the real policy); see the module docstring."""
    policy = params["policy"]
    logits, sample_logits = _decision_logits(config, policy, public_input, legal_actions,
                                             partner_hands, sample_hands)
    log_probs = jax.nn.log_softmax(logits)
    entropy = -jnp.sum(jnp.exp(log_probs) * jnp.where(legal_actions, log_probs, 0.0))
    return _decision_log_prob(config, logits, action, sample_logits, sample_action), entropy
