"""Replays games through OpenSpiel and `games.hanabi.jax_game` with the same deal and moves.

OpenSpiel's chance nodes are driven by a deck order drawn here (the chance action for dealing a
card is its value), the moves by a mix of random, reckless and cheating policies so that games
also end by the deck running out, by losing the last life and with a perfect score. At every
decision point (and at the end) the legal mask, every player's observation, the rewards since the
previous decision point, done, score, life and information tokens must be equal.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pyspiel
import pytest

from games.hanabi import jax_game as hanabi_jax
from games.hanabi.config import HanabiConfig, make_config

COLOR_LETTERS = "RYGWB"

CONFIGS = {
    "full_2p": "full",
    "small": "small",
    "very_small": "very_small",
    "full_3p": {"preset": "full", "players": 3},
    "full_4p": {"preset": "full", "players": 4},
    "full_5p": {"preset": "full", "players": 5},
    "odd_3p": dict(players=3, colors=3, ranks=4, hand_size=3, max_information_tokens=5,
                   max_life_tokens=2),
    "one_rank": dict(players=2, colors=4, ranks=1, hand_size=2, max_information_tokens=2,
                     max_life_tokens=1),
    "many_tokens": dict(players=2, colors=1, ranks=2, hand_size=1, max_information_tokens=130,
                        max_life_tokens=129),
    "tiny_hand_5p": dict(players=5, colors=2, ranks=3, hand_size=1, max_information_tokens=1,
                         max_life_tokens=2),
}


@dataclasses.dataclass
class Record:
    """One OpenSpiel game: decision points 0..T (T: the end), moves 0..T-1."""

    deck: np.ndarray
    actions: list[int] = dataclasses.field(default_factory=list)
    rewards: list[float] = dataclasses.field(default_factory=list)
    masks: list[np.ndarray] = dataclasses.field(default_factory=list)
    observations: list[np.ndarray] = dataclasses.field(default_factory=list)
    life: list[int] = dataclasses.field(default_factory=list)
    information: list[int] = dataclasses.field(default_factory=list)
    score: list[float] = dataclasses.field(default_factory=list)
    done: list[bool] = dataclasses.field(default_factory=list)


def _parse_state(config: HanabiConfig, text: str) -> dict:
    """Tokens, fireworks and hands from OpenSpiel's state string."""
    lines = text.splitlines()
    fields = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in lines if ":" in line}
    fireworks = [int(item[1:]) for item in fields["Fireworks"].split()]
    hands_text = text.split("Hands:\n", 1)[1].split("Deck size")[0]
    hands = []
    for block in hands_text.split("-----"):
        cards = [line.split(" ||")[0] for line in block.splitlines()
                 if "||" in line]
        hands.append([COLOR_LETTERS.index(c[0]) * config.ranks + int(c[1]) - 1 for c in cards])
    return dict(life=int(fields["Life tokens"]), information=int(fields["Info tokens"]),
                fireworks=fireworks, hands=hands)


def _choose(config: HanabiConfig, state, style: str, rng: np.random.Generator) -> int:
    legal = state.legal_actions()
    if style == "random":
        return int(rng.choice(legal))
    if style == "reckless":  # plays blindly: loses lives
        plays = [a for a in legal if config.hand_size <= a < 2 * config.hand_size]
        return int(rng.choice(plays if plays and rng.random() < 0.7 else legal))
    # "cheat": sees its own cards, plays what fits, hints while it can, else discards.
    parsed = _parse_state(config, str(state))
    hand = parsed["hands"][state.current_player()]
    for slot, card in enumerate(hand):
        if parsed["fireworks"][card // config.ranks] == card % config.ranks:
            return config.hand_size + slot
    hints = [a for a in legal if a >= 2 * config.hand_size]
    discards = [a for a in legal if a < config.hand_size]
    if hints and (not discards or rng.random() < 0.5):
        return int(rng.choice(hints))
    if discards:
        dead = [s for s, card in enumerate(hand)
                if parsed["fireworks"][card // config.ranks] > card % config.ranks]
        return dead[0] if dead else int(rng.choice(discards))
    return int(rng.choice(legal))


def play_open_spiel(game, config: HanabiConfig, deck: np.ndarray, style: str,
                    rng: np.random.Generator) -> Record:
    """Plays one game in OpenSpiel, dealing `deck` in order, and records every decision point.

    The reward of a move is read right after it: OpenSpiel only updates its previous score on
    player moves, so the following chance node reports the same rewards again.
    """
    state = game.new_initial_state()
    record = Record(deck=deck)
    dealt, reward = 0, None
    while True:
        if state.is_chance_node():
            assert state.chance_outcomes()  # the deck's next card is among them
            state.apply_action(int(deck[dealt]))
            dealt += 1
            continue
        parsed = _parse_state(config, str(state))
        if record.masks:
            record.rewards.append(reward)
        mask = np.zeros(config.num_actions, bool)
        mask[state.legal_actions()] = True
        record.masks.append(mask)
        record.observations.append(np.array(
            [state.observation_tensor(p) for p in range(config.players)], np.int8))
        record.life.append(parsed["life"])
        record.information.append(parsed["information"])
        record.score.append(state.returns()[0])
        record.done.append(state.is_terminal())
        if state.is_terminal():
            return record
        action = _choose(config, state, style, rng)
        record.actions.append(action)
        state.apply_action(action)
        reward = state.rewards()[0]


def max_moves(config: HanabiConfig) -> int:
    """An upper bound on a game's length: every card played or discarded, hints paid for."""
    return 2 * config.deck_size + config.max_information_tokens + config.colors


@functools.cache
def replay_fn(config: HanabiConfig):
    """Compiled replay of a batch of games: decks [G, deck_size], actions [G, max_moves]."""

    def replay_one(deck, actions):
        def body(state, action):
            seen = dict(
                mask=hanabi_jax.legal_actions_mask(config, state),
                observations=jax.vmap(lambda p: hanabi_jax.observation(
                    config, state, p, jnp.int8))(jnp.arange(config.players)),
                life=state.life_tokens, information=state.information_tokens,
                score=hanabi_jax.score(config, state), done=state.done)
            state, rewards, _, info = hanabi_jax.step(config, state, action)
            return state, (seen, rewards, info["illegal_action"])

        state = hanabi_jax.reset_from_deck(config, deck)
        return jax.lax.scan(body, state, actions)[1]

    return jax.jit(jax.vmap(replay_one))


def record_games(config: HanabiConfig, num_games: int, seed: int) -> list[Record]:
    game = pyspiel.load_game("hanabi", config.open_spiel_params())
    rng = np.random.default_rng(seed)
    styles = ["random", "reckless", "cheat", "cheat"]
    return [play_open_spiel(game, config, rng.permutation(hanabi_jax.ordered_deck(config)),
                            styles[i % len(styles)], rng) for i in range(num_games)]


def check_replay(config: HanabiConfig, records: list[Record]) -> None:
    """Replays `records` in JAX and compares every decision point."""
    length = max_moves(config) + 1
    actions = np.zeros((len(records), length), np.int32)
    for i, record in enumerate(records):
        actions[i, :len(record.actions)] = record.actions
    decks = np.stack([r.deck for r in records])
    seen, rewards, illegal = jax.device_get(replay_fn(config)(decks, actions))
    for i, record in enumerate(records):
        n = len(record.actions)
        where = f"game {i}, deck {record.deck.tolist()}, moves {record.actions}"
        assert not illegal[i, :n].any(), where
        np.testing.assert_array_equal(seen["mask"][i, :n + 1], np.array(record.masks), where)
        np.testing.assert_array_equal(
            seen["observations"][i, :n + 1], np.array(record.observations), where)
        np.testing.assert_array_equal(rewards[i, :n, 0], record.rewards, where)
        assert (rewards[i, :n] == rewards[i, :n, :1]).all()
        np.testing.assert_array_equal(seen["life"][i, :n + 1], record.life, where)
        np.testing.assert_array_equal(seen["information"][i, :n + 1], record.information, where)
        np.testing.assert_array_equal(seen["score"][i, :n + 1], record.score, where)
        np.testing.assert_array_equal(seen["done"][i, :n + 1], record.done, where)
        assert seen["done"][i, n] and (rewards[i, n:] == 0).all() and illegal[i, n:].all()


def endings(config: HanabiConfig, records: list[Record]) -> set[str]:
    """How the recorded games ended."""
    found = set()
    for record in records:
        if record.life[-1] == 0:
            found.add("lost_last_life_with_points" if min(record.rewards) < 0 else "lost_last_life")
        elif record.score[-1] == config.max_score:
            found.add("perfect")
        else:
            found.add("deck_ran_out")
    return found


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_replays_match_open_spiel(name):
    config = make_config(CONFIGS[name])
    num_games = 48 if config.players < 4 else 24
    records = record_games(config, num_games, seed=sorted(CONFIGS).index(name))
    check_replay(config, records)


@pytest.mark.parametrize("name", ["very_small", "small", "full_2p"])
def test_games_end_every_way(name):
    config = make_config(CONFIGS[name])
    records = record_games(config, 40, seed=100)
    check_replay(config, records)
    expected = {"lost_last_life_with_points", "deck_ran_out"}
    if name != "full_2p":
        expected.add("perfect")
    assert expected <= endings(config, records)


def test_perfect_game_in_order():
    """A deck sorted by rank lets the cheating policy play a perfect Full game."""
    config = make_config("full")
    deck = np.array(sorted(hanabi_jax.ordered_deck(config), key=lambda v: (v % 5, v // 5)))
    game = pyspiel.load_game("hanabi", config.open_spiel_params())
    rng = np.random.default_rng(0)
    record = play_open_spiel(game, config, deck, "cheat", rng)
    assert record.score[-1] == config.max_score and record.life[-1] == config.max_life_tokens
    check_replay(config, [record])


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_many_replays_match_open_spiel(name):
    config = make_config(CONFIGS[name])
    for seed in range(5):
        check_replay(config, record_games(config, 250, seed=1000 + seed))
