"""The public belief of a Hanabi agent behind one interface, with three implementations.

Every player can compute the public belief from public facts alone: the hint masks, the remaining
card counts and the *evidence*, what the partial policies revealed about the cards so far. The
evidence is the per-game state an agent carries from move to move (`PublicBelief.initial_evidence`),
and one interface turns it into what the agent needs:

* `view(observation, evidence)`: the belief at a decision point (`BeliefView`): the evidence with
  whatever the observation revealed applied, and the per-slot marginals.
* `input_features(view, seat)`: what the public agent's input shows of the belief.
* `sample_partner_hands(key, view, observation)`: the public samples of the actor's partners'
  hands (with the shared key, so every player draws the same): the likelihood's neighbours and,
  first of them, the counterfactual gradient's public sample.
* `observe(policy, public_input, view, observation, samples, action)`: the evidence after the
  actor played `action`.

The implementations:

* `CountBelief` (IPPO's input): V0, the hint masks times the remaining counts; no evidence.
* `FactorisedBelief` (BAD): BB, the V1 card-count iteration with the per-slot BAD likelihood
  (`bad.hanabi.likelihood`) folded in, or V2 (`(1 - a) * BB + a * V1`) when `v2_alpha > 0`.
* `ExactJointBelief` (BAD, two players with two-card hands): the exact posterior over both joint
  hands (`bad.hanabi.exact_belief`).
"""

from __future__ import annotations

import abc
from typing import NamedTuple

import jax
import jax.numpy as jnp

from bad.hanabi import belief as hanabi_belief
from bad.hanabi import exact_belief as hanabi_exact_belief
from bad.hanabi import likelihood as hanabi_likelihood
from bad.hanabi import network as hanabi_network
from bad.hanabi.agent_types import AgentConfig, Observation
from games.hanabi import rules as hanabi_rules


class BeliefView(NamedTuple):
    """The public belief at one decision point."""

    evidence: jax.Array       # the tracked evidence, with what the observation revealed applied
    marginals: jax.Array      # float [players, hand_size, values], absolute seats
    partner_joint: jax.Array  # exact belief: the partner's joint posterior [values, values]


def partner_slots(observation: Observation) -> jax.Array:
    """bool [players - 1, hand_size]: the partners' occupied slots (public: the hand sizes)."""
    occupied = observation.card_knowledge.any(-1)
    return hanabi_rules.relative_rows(occupied, observation.current_player)[1:]


class PublicBelief(abc.ABC):
    """One kind of public belief for the agent `config` (see the module docstring)."""

    def __init__(self, config: AgentConfig):
        self.config = config

    @abc.abstractmethod
    def initial_evidence(self) -> jax.Array:
        """The evidence of a new game: nothing revealed yet."""

    @abc.abstractmethod
    def view(self, observation: Observation, evidence: jax.Array) -> BeliefView:
        """The belief at the decision point of `observation`."""

    @abc.abstractmethod
    def input_features(self, view: BeliefView, seat: jax.Array) -> jax.Array:
        """float [k]: the belief as the public agent sees it, slots from the actor's `seat`."""

    @abc.abstractmethod
    def sample_partner_hands(self, key: jax.Array, view: BeliefView,
                             observation: Observation) -> jax.Array:
        """int32 [samples, players - 1, hand_size]: public samples of the partners' hands."""

    @abc.abstractmethod
    def observe(self, policy: hanabi_network.Params, public_input: jax.Array, view: BeliefView,
                observation: Observation, samples: jax.Array, action: jax.Array,
                public: jax.Array | None = None) -> jax.Array:
        """The evidence after the actor of `observation` played `action` (`public`: the
        policy's public pre-activation of `public_input`, where the caller has it)."""


def _no_partner_joint() -> jax.Array:
    return jnp.zeros((0,), jnp.float32)


class CountBelief(PublicBelief):
    """V0: the hint masks times the remaining counts. It gathers no evidence (whose array keeps
    the factorised shape, so that the learner's state has one layout) and draws no samples."""

    def initial_evidence(self) -> jax.Array:
        game = self.config.game
        return jnp.zeros((game.players, game.hand_size, game.num_values), jnp.float32)

    def view(self, observation: Observation, evidence: jax.Array) -> BeliefView:
        marginals = hanabi_belief.v0_belief(observation.card_knowledge,
                                            observation.remaining_counts)
        return BeliefView(evidence, marginals, _no_partner_joint())

    def input_features(self, view: BeliefView, seat: jax.Array) -> jax.Array:
        return jnp.zeros((0,), jnp.float32)

    def sample_partner_hands(self, key: jax.Array, view: BeliefView,
                             observation: Observation) -> jax.Array:
        game = self.config.game
        return jnp.zeros((0, game.players - 1, game.hand_size), jnp.int32)

    def observe(self, policy, public_input, view, observation, samples, action,
                public=None) -> jax.Array:
        return view.evidence


class FactorisedBelief(PublicBelief):
    """BB (or V2): per slot, the V1 iteration with the tracked log-likelihoods folded in."""

    def initial_evidence(self) -> jax.Array:
        game = self.config.game
        return jnp.zeros((game.players, game.hand_size, game.num_values), jnp.float32)

    def view(self, observation: Observation, evidence: jax.Array) -> BeliefView:
        knowledge, counts = observation.card_knowledge, observation.remaining_counts
        likelihood = jnp.exp(evidence)
        if self.config.v2_alpha > 0:
            marginals = hanabi_belief.v2_belief(knowledge, counts, likelihood,
                                                self.config.v2_alpha)
        else:
            marginals = hanabi_belief.bb_belief(knowledge, counts, likelihood)
        return BeliefView(evidence, marginals, _no_partner_joint())

    def input_features(self, view: BeliefView, seat: jax.Array) -> jax.Array:
        return hanabi_rules.relative_rows(view.marginals, seat).reshape(-1)

    def sample_partner_hands(self, key: jax.Array, view: BeliefView,
                             observation: Observation) -> jax.Array:
        partners = hanabi_rules.relative_rows(view.marginals, observation.current_player)[1:]
        return hanabi_likelihood.sample_hands(key, partners, partner_slots(observation),
                                              self.config.likelihood_samples)

    def observe(self, policy, public_input, view, observation, samples, action,
                public=None) -> jax.Array:
        evidence = hanabi_likelihood.partner_log_likelihood(
            self.config, policy, public_input, observation.legal_actions, samples, action,
            public)
        return hanabi_likelihood.track_likelihood(self.config, view.evidence,
                                                  observation.current_player, evidence, action)


class ExactJointBelief(FactorisedBelief):
    """The exact posterior over both joint hands of two players with two cards each; its
    evidence is one log-likelihood table per player over its joint hands [players, values,
    values]. The card a move revealed is read from the next observation's last-move section."""

    def initial_evidence(self) -> jax.Array:
        return hanabi_exact_belief.initial_log_likelihood(self.config.game)

    def view(self, observation: Observation, evidence: jax.Array) -> BeliefView:
        game = self.config.game
        removed, offset, slot, card = hanabi_rules.last_removed_card(
            game, observation.public_observation, public=True)
        seat = (observation.current_player + offset) % game.players
        revealed = hanabi_exact_belief.reveal(evidence, seat, slot, card)
        evidence = jnp.where(removed, revealed, evidence)
        marginals, joint = hanabi_exact_belief.exact_belief(
            observation.card_knowledge, observation.remaining_counts, evidence)
        return BeliefView(evidence, marginals, joint[self._partner(observation)])

    def _partner(self, observation: Observation) -> jax.Array:
        return (observation.current_player + 1) % self.config.game.players

    def sample_partner_hands(self, key: jax.Array, view: BeliefView,
                             observation: Observation) -> jax.Array:
        return hanabi_exact_belief.sample_joint_hand(key, view.partner_joint,
                                                     partner_slots(observation)[0])

    def observe(self, policy, public_input, view, observation, samples, action,
                public=None) -> jax.Array:
        evidence = hanabi_exact_belief.joint_partner_log_likelihood(
            self.config, policy, public_input, observation.legal_actions,
            partner_slots(observation)[0], action, public)
        return hanabi_exact_belief.track_joint_likelihood(self.config, view.evidence,
                                                          self._partner(observation), evidence)


def public_belief_of(config: AgentConfig) -> PublicBelief:
    """The agent's public belief: V0 for IPPO, else exact or factorised (BB / V2)."""
    if not config.is_bad:
        return CountBelief(config)
    if config.exact_belief:
        return ExactJointBelief(config)
    return FactorisedBelief(config)
