"""Evaluating a Hanabi agent (`bad.hanabi.agent`) in the JAX Hanabi or through OpenSpiel.

Both paths play each game once from a given deal order, in lock step, and call the same compiled
`decide` function on the same inputs: game `g`'s move `t` uses the key `fold_in(key_g, t)` with
`key_g = split(key, num_games)[g]`. Equal deals therefore give equal games on both paths.

Besides the scores they measure the per-card belief cross-entropy `-log B(true card)` over every
occupied hand slot of every player at every decision point, for V0, V1 and the agent's own
belief (BB for BAD, V2 with `v2_alpha > 0`, or the exact belief; V0 for IPPO), and how well
calibrated the agent's belief is where it matters most: at every decision, the probability it
gives each of the acting player's own cards of being playable, binned by `CALIBRATION_EDGES`,
against how often the card was playable (`calibration_table`).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bad.hanabi import agent as hanabi_agent
from bad.hanabi import belief as hanabi_belief
from bad.hanabi import network as hanabi_network
from bad.hanabi.agent import AgentConfig
from games.hanabi import jax_game as hanabi_jax
from games.hanabi import rules as hanabi_rules

CALIBRATION_EDGES = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 1.0)


class Evaluation(NamedTuple):
    """Per-game results of `play_jax` or `play_open_spiel`."""

    scores: np.ndarray                # int [num_games]
    cross_entropy_sums: np.ndarray    # float [num_games, 3]: V0, V1, the agent's belief, over cards
    cards: np.ndarray                 # int [num_games]: cards those sums are over
    moves: np.ndarray                 # int [num_games]: moves the game lasted
    playable_bins: np.ndarray         # float [num_games, bins, 3]: `_playable_bins` summed


def _cross_entropy_sums(observation: hanabi_agent.Observation, belief: jax.Array,
                        hands: jax.Array) -> jax.Array:
    """[3]: V0, V1 and the agent's `belief` (BB, V2 or exact) `-log B(true card)` summed over one
    game's occupied slots."""
    knowledge, counts = observation.card_knowledge, observation.remaining_counts
    beliefs = jnp.stack([
        hanabi_belief.v0_belief(knowledge, counts),
        hanabi_belief.v1_belief(knowledge, counts),
        belief])
    prob = jnp.take_along_axis(beliefs, jnp.maximum(hands, 0)[None, ..., None], axis=-1)[..., 0]
    return -jnp.sum(jnp.where(hands >= 0, jnp.log(jnp.maximum(prob, 1e-12)), 0.0), axis=(1, 2))


def _playable_bins(config: AgentConfig, observation: hanabi_agent.Observation,
                   belief: jax.Array, hands: jax.Array) -> jax.Array:
    """[bins, 3]: per bin of the agent's belief that an own card of the acting player is
    playable, the cards in it, the sum of those probabilities and the cards truly playable."""
    seat = observation.current_player
    playable = hanabi_network.card_status_of(config, observation.public_observation)[:, 0]
    predicted = belief[seat] @ playable                                       # [hand_size]
    own = hands[seat]
    edges = jnp.asarray(CALIBRATION_EDGES[1:-1])
    in_bin = ((jnp.searchsorted(edges, predicted, side="right")[:, None]
               == jnp.arange(len(CALIBRATION_EDGES) - 1)) & (own >= 0)[:, None])
    in_bin = in_bin.astype(jnp.float32)
    return jnp.stack([in_bin.sum(0), predicted @ in_bin,
                      playable[jnp.maximum(own, 0)] @ in_bin], axis=-1)


@functools.partial(hanabi_agent.jit, static_argnums=(0, 7))
def decide(config: AgentConfig, params, observation: hanabi_agent.Observation,
           log_likelihood: jax.Array, game_keys: jax.Array, move: jax.Array, hands: jax.Array,
           greedy: bool = False
           ) -> tuple[hanabi_agent.Decision, jax.Array, jax.Array, jax.Array]:
    """A batch of moves, the evidence after them, their belief cross-entropy sums [B, 3] and
    `_playable_bins` [B, bins, 3] (hands: every true hand)."""
    keys = jax.vmap(jax.random.fold_in, (0, None))(game_keys, move)
    decision, evidence = hanabi_agent.act_batch(config, params, observation, log_likelihood,
                                                keys, greedy)
    sums = jax.vmap(_cross_entropy_sums)(observation, decision.belief, hands)
    bins = jax.vmap(_playable_bins, (None, 0, 0, 0))(config, observation, decision.belief, hands)
    return decision, evidence, sums, bins


class _Tally:
    """Scores at each game's first end, and cross-entropy sums up to it."""

    def __init__(self, num_games: int):
        self.scores = np.full(num_games, -1, np.int64)
        self.sums = np.zeros((num_games, 3))
        self.cards = np.zeros(num_games, np.int64)
        self.moves = np.zeros(num_games, np.int64)
        self.playable_bins = np.zeros((num_games, len(CALIBRATION_EDGES) - 1, 3))

    @property
    def running(self) -> np.ndarray:
        return self.scores < 0

    def add(self, sums, playable_bins, hands, done, score) -> None:
        running = self.running
        self.sums[running] += np.asarray(sums)[running]
        self.playable_bins[running] += np.asarray(playable_bins)[running]
        self.cards[running] += (np.asarray(hands) >= 0).sum((1, 2))[running]
        self.moves[running] += 1
        ended = running & np.asarray(done)
        self.scores[ended] = np.asarray(score)[ended]

    def result(self) -> Evaluation:
        return Evaluation(self.scores, self.sums, self.cards, self.moves, self.playable_bins)


def play_jax(config: AgentConfig, params, decks: np.ndarray, key: jax.Array,
             greedy: bool = False) -> Evaluation:
    """Plays one game per deck order [num_games, deck_size] in `games.hanabi.jax_game` (`greedy`:
    every move the policy's most likely action, see `hanabi_agent.act`)."""
    game = config.game
    states = jax.vmap(lambda d: hanabi_jax.reset_from_deck(game, d))(jnp.asarray(decks))
    observe = jax.jit(jax.vmap(lambda s: hanabi_agent.observation_from_state(game, s)))
    step = jax.jit(jax.vmap(lambda s, a: hanabi_jax.step(game, s, a)))
    game_keys = jax.random.split(key, len(decks))
    initial = np.asarray(hanabi_agent.initial_evidence(config))
    log_likelihood = jnp.asarray(np.broadcast_to(initial, (len(decks), *initial.shape)))
    tally = _Tally(len(decks))
    move = 0
    while tally.running.any():
        hands = states.hands.astype(jnp.int32)
        decision, log_likelihood, sums, bins = decide(config, params, observe(states),
                                                      log_likelihood, game_keys,
                                                      jnp.asarray(move), hands, greedy)
        states, _, done, info = step(states, decision.action)
        tally.add(sums, bins, hands, done, info["score"])
        move += 1
    return tally.result()


def play_open_spiel(config: AgentConfig, params, game, decks: np.ndarray | None,
                    key: jax.Array, greedy: bool = False) -> Evaluation:
    """Plays one game per deck order (random ones when None) through a `games.hanabi.HanabiGame`
    (`greedy` as in `play_jax`).

    Games that end are dealt again by `HanabiGame`; only each game's first play counts.
    """
    step = game.reset(decks)
    num_games = game.num_games
    game_keys = jax.random.split(key, num_games)
    initial = np.asarray(hanabi_agent.initial_evidence(config))
    log_likelihood = np.broadcast_to(initial, (num_games, *initial.shape))
    tally = _Tally(num_games)
    move = 0
    while tally.running.any():
        observation = hanabi_agent.observations_from_steps(
            config.game, step.public_observation, step.private_observation, step.card_knowledge,
            step.remaining_counts, step.legal_actions, step.current_player)
        hands = hanabi_rules.seat_hands_from_private(config.game, step.private_observation)
        decision, evidence, sums, bins = decide(config, params, observation,
                                                jnp.asarray(log_likelihood), game_keys,
                                                jnp.asarray(move), jnp.asarray(hands), greedy)
        step = game.step(np.asarray(decision.action))
        tally.add(sums, bins, hands, step.done, step.score)
        done = step.done.reshape(-1, *(1,) * initial.ndim)
        log_likelihood = np.where(done, initial, np.asarray(evidence))
        move += 1
    return tally.result()


def calibration_table(evaluation: Evaluation) -> list[dict[str, float]]:
    """Per non-empty bin of the agent's P(own card playable): its range, the cards in it, their
    mean predicted probability and the fraction truly playable."""
    count, predicted, playable = evaluation.playable_bins.sum(0).T
    return [{"low": low, "high": high, "cards": int(n), "mean_predicted": p / n,
             "fraction_playable": t / n}
            for low, high, n, p, t in zip(CALIBRATION_EDGES[:-1], CALIBRATION_EDGES[1:], count,
                                          predicted, playable) if n > 0]


def summarise(config: AgentConfig, evaluation: Evaluation) -> dict[str, float]:
    """Mean score, its standard error, the fraction of perfect games, per-card cross-entropies
    and the calibration error of the agent's P(own card playable): the card-weighted mean gap
    between predicted and observed frequency over the `calibration_table` bins."""
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
    rows = calibration_table(evaluation)
    total = max(sum(row["cards"] for row in rows), 1)
    summary[f"playable_calibration_error_{config.belief_name}"] = float(sum(
        row["cards"] * abs(row["mean_predicted"] - row["fraction_playable"]) for row in rows)
        / total)
    return summary
