"""Evaluating a Hanabi agent (`bad.hanabi_agent`) in the JAX Hanabi or through OpenSpiel.

Both paths play each game once from a given deal order, in lock step, and call the same compiled
`decide` function on the same inputs: game `g`'s move `t` uses the key `fold_in(key_g, t)` with
`key_g = split(key, num_games)[g]`. Equal deals therefore give equal games on both paths.

Besides the scores they measure the per-card belief cross-entropy `-log B(true card)` over every
occupied hand slot of every player at every decision point, for V0, V1 and the agent's own
belief (BB for BAD, or V2 with `v2_alpha > 0`; for IPPO, which tracks no likelihood, BB equals
V1).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bad import hanabi_agent, hanabi_belief
from bad.hanabi_agent import AgentConfig
from games import hanabi_jax


class Evaluation(NamedTuple):
    """Per-game results of `play_jax` or `play_open_spiel`."""

    scores: np.ndarray                # int [num_games]
    cross_entropy_sums: np.ndarray    # float [num_games, 3]: V0, V1, BB (or V2) over cards
    cards: np.ndarray                 # int [num_games]: cards those sums are over
    moves: np.ndarray                 # int [num_games]: moves the game lasted


def _cross_entropy_sums(config: AgentConfig, observation: hanabi_agent.Observation,
                        log_likelihood: jax.Array, hands: jax.Array) -> jax.Array:
    """[3]: V0, V1 and BB (or V2) `-log B(true card)` summed over one game's occupied slots."""
    knowledge, counts = observation.card_knowledge, observation.remaining_counts
    beliefs = jnp.stack([
        hanabi_belief.v0_belief(knowledge, counts),
        hanabi_belief.v1_belief(knowledge, counts),
        hanabi_agent.public_belief(config, observation, log_likelihood)])
    prob = jnp.take_along_axis(beliefs, jnp.maximum(hands, 0)[None, ..., None], axis=-1)[..., 0]
    return -jnp.sum(jnp.where(hands >= 0, jnp.log(jnp.maximum(prob, 1e-12)), 0.0), axis=(1, 2))


@functools.partial(jax.jit, static_argnums=(0, 7))
def decide(config: AgentConfig, params, observation: hanabi_agent.Observation,
           log_likelihood: jax.Array, game_keys: jax.Array, move: jax.Array, hands: jax.Array,
           greedy: bool = False) -> tuple[hanabi_agent.Decision, jax.Array]:
    """A batch of moves and their belief cross-entropy sums [B, 3] (hands: every true hand)."""
    keys = jax.vmap(jax.random.fold_in, (0, None))(game_keys, move)
    decision = jax.vmap(hanabi_agent.act, (None, None, 0, 0, 0, None))(
        config, params, observation, log_likelihood, keys, greedy)
    sums = jax.vmap(_cross_entropy_sums, (None, 0, 0, 0))(config, observation, log_likelihood,
                                                          hands)
    return decision, sums


class _Tally:
    """Scores at each game's first end, and cross-entropy sums up to it."""

    def __init__(self, num_games: int):
        self.scores = np.full(num_games, -1, np.int64)
        self.sums = np.zeros((num_games, 3))
        self.cards = np.zeros(num_games, np.int64)
        self.moves = np.zeros(num_games, np.int64)

    @property
    def running(self) -> np.ndarray:
        return self.scores < 0

    def add(self, sums, hands, done, score) -> None:
        running = self.running
        self.sums[running] += np.asarray(sums)[running]
        self.cards[running] += (np.asarray(hands) >= 0).sum((1, 2))[running]
        self.moves[running] += 1
        ended = running & np.asarray(done)
        self.scores[ended] = np.asarray(score)[ended]

    def result(self) -> Evaluation:
        return Evaluation(self.scores, self.sums, self.cards, self.moves)


def play_jax(config: AgentConfig, params, decks: np.ndarray, key: jax.Array,
             greedy: bool = False) -> Evaluation:
    """Plays one game per deck order [num_games, deck_size] in `games.hanabi_jax` (`greedy`:
    every move the policy's most likely action, see `hanabi_agent.act`)."""
    game = config.game
    states = jax.vmap(lambda d: hanabi_jax.reset_from_deck(game, d))(jnp.asarray(decks))
    observe = jax.jit(jax.vmap(lambda s: hanabi_agent.observe(game, s)))
    step = jax.jit(jax.vmap(lambda s, a: hanabi_jax.step(game, s, a)))
    game_keys = jax.random.split(key, len(decks))
    log_likelihood = jnp.zeros((len(decks), *hanabi_agent.initial_log_likelihood(game).shape))
    tally = _Tally(len(decks))
    move = 0
    while tally.running.any():
        hands = states.hands.astype(jnp.int32)
        decision, sums = decide(config, params, observe(states), log_likelihood, game_keys,
                                jnp.asarray(move), hands, greedy)
        states, _, done, info = step(states, decision.action)
        tally.add(sums, hands, done, info["score"])
        log_likelihood = decision.log_likelihood
        move += 1
    return tally.result()


def true_hands(config: AgentConfig, private_observation: np.ndarray) -> np.ndarray:
    """Every player's hand [B, players, hand_size] from all players' private observations.

    The player to seat `s`'s right sees `s`'s hand first among its partners.
    """
    players = config.game.players
    partner_hands = np.asarray(hanabi_agent.hands_from_private(config.game,
                                                               jnp.asarray(private_observation)))
    return np.stack([partner_hands[:, (seat - 1) % players, 0] for seat in range(players)], 1)


def play_open_spiel(config: AgentConfig, params, game, decks: np.ndarray | None,
                    key: jax.Array, greedy: bool = False) -> Evaluation:
    """Plays one game per deck order (random ones when None) through a `games.hanabi.HanabiGame`
    (`greedy` as in `play_jax`).

    Games that end are dealt again by `HanabiGame`; only each game's first play counts.
    """
    step = game.reset(decks)
    num_games = game.num_games
    game_keys = jax.random.split(key, num_games)
    log_likelihood = np.zeros((num_games, *hanabi_agent.initial_log_likelihood(config.game).shape),
                              np.float32)
    tally = _Tally(num_games)
    move = 0
    while tally.running.any():
        observation = hanabi_agent.observe_batch(
            config.game, step.public_observation, step.private_observation, step.card_knowledge,
            step.remaining_counts, step.legal_actions, step.current_player)
        hands = true_hands(config, step.private_observation)
        decision, sums = decide(config, params, observation, jnp.asarray(log_likelihood),
                                game_keys, jnp.asarray(move), jnp.asarray(hands), greedy)
        step = game.step(np.asarray(decision.action))
        tally.add(sums, hands, step.done, step.score)
        log_likelihood = np.where(step.done[:, None, None, None], 0.0,
                                  np.asarray(decision.log_likelihood))
        move += 1
    return tally.result()


def summarise(config: AgentConfig, evaluation: Evaluation) -> dict[str, float]:
    """Mean score, its standard error, the fraction of perfect games, per-card cross-entropies."""
    scores = evaluation.scores.astype(np.float64)
    cards = max(int(evaluation.cards.sum()), 1)
    summary = {
        "mean_score": float(scores.mean()),
        "score_stderr": float(scores.std(ddof=1) / np.sqrt(len(scores))) if len(scores) > 1
        else 0.0,
        "perfect_fraction": float(np.mean(scores == config.game.max_score)),
        "num_games": int(len(scores)),
    }
    for index, name in enumerate(("v0", "v1", config.belief_name)):
        summary[f"cross_entropy_{name}"] = float(evaluation.cross_entropy_sums[:, index].sum()
                                                 / cards)
    return summary
