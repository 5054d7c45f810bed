"""`games.hanabi` features against an independent plain-Python replay of each game.

The replay knows only the deal order (`HanabiGame.decks`) and the moves played; it keeps the hands,
hints, fireworks, discards and tokens itself, and from them predicts card knowledge, remaining
counts, private observations, legal moves, current player, rewards, scores and game ends.
"""

from __future__ import annotations

import numpy as np
import pytest

from games import hanabi
from games.hanabi.config import HanabiConfig, make_config


class Replay:
    """One game of Hanabi in plain Python, following the rules as the HLE states them."""

    def __init__(self, config: HanabiConfig, deck: np.ndarray):
        self.config = config
        self.deck = [int(value) for value in deck]
        self.next_card = 0
        self.hands: list[list[int]] = [[] for _ in range(config.players)]
        self.hints: list[list[tuple[set[int], set[int]]]] = [[] for _ in range(config.players)]
        for player in range(config.players):
            for _ in range(config.hand_size):
                self.draw(player)
        self.fireworks = [0] * config.colors
        self.discarded = [0] * config.num_values
        self.information_tokens = config.max_information_tokens
        self.life_tokens = config.max_life_tokens
        self.current_player = 0
        self.turns_after_last_card = 0

    def draw(self, player: int) -> None:
        if self.next_card < len(self.deck):
            self.hands[player].append(self.deck[self.next_card])
            self.hints[player].append((set(range(self.config.colors)),
                                       set(range(self.config.ranks))))
            self.next_card += 1

    @property
    def score(self) -> int:
        return 0 if self.life_tokens == 0 else sum(self.fireworks)

    @property
    def done(self) -> bool:
        return (self.life_tokens == 0 or sum(self.fireworks) == self.config.max_score
                or self.turns_after_last_card == self.config.players)

    def color_rank(self, value: int) -> tuple[int, int]:
        return divmod(value, self.config.ranks)

    def apply(self, action: int) -> None:
        c = self.config
        deck_was_empty = self.next_card == len(self.deck)
        player, hand_size = self.current_player, c.hand_size
        hints_start = 2 * hand_size
        rank_hints_start = hints_start + (c.players - 1) * c.colors
        if action < 2 * hand_size:
            slot = action % hand_size
            value = self.hands[player].pop(slot)
            self.hints[player].pop(slot)
            color, rank = self.color_rank(value)
            if action < hand_size:
                self.discarded[value] += 1
                self.information_tokens += 1
            elif self.fireworks[color] == rank:
                self.fireworks[color] += 1
                if rank == c.ranks - 1 and self.information_tokens < c.max_information_tokens:
                    self.information_tokens += 1
            else:
                self.discarded[value] += 1
                self.life_tokens -= 1
            self.draw(player)
        else:
            self.information_tokens -= 1
            if action < rank_hints_start:
                offset, color = divmod(action - hints_start, c.colors)
                matches = lambda value: self.color_rank(value)[0] == color
                narrow = lambda hint, match: (({color} if match else hint[0] - {color}), hint[1])
            else:
                offset, rank = divmod(action - rank_hints_start, c.ranks)
                matches = lambda value: self.color_rank(value)[1] == rank
                narrow = lambda hint, match: (hint[0], {rank} if match else hint[1] - {rank})
            target = (player + offset + 1) % c.players
            self.hints[target] = [narrow(hint, matches(value))
                                  for hint, value in zip(self.hints[target], self.hands[target])]
        if deck_was_empty:
            self.turns_after_last_card += 1
        self.current_player = (player + 1) % c.players

    def legal_actions(self) -> list[int]:
        c, hand = self.config, self.hands[self.current_player]
        legal = [slot for slot in range(len(hand))
                 if self.information_tokens < c.max_information_tokens]
        legal += [c.hand_size + slot for slot in range(len(hand))]
        if self.information_tokens > 0:
            others = [self.hands[(self.current_player + offset) % c.players]
                      for offset in range(1, c.players)]
            for offset, other in enumerate(others):
                colors = {self.color_rank(value)[0] for value in other}
                legal += [2 * c.hand_size + offset * c.colors + color
                          for color in sorted(colors)]
            for offset, other in enumerate(others):
                ranks = {self.color_rank(value)[1] for value in other}
                legal += [2 * c.hand_size + (c.players - 1) * c.colors + offset * c.ranks + rank
                          for rank in sorted(ranks)]
        return sorted(legal)

    def playable_slot(self) -> int | None:
        """A slot of the current player's hand that would score, if any (for a strong policy)."""
        for slot, value in enumerate(self.hands[self.current_player]):
            color, rank = self.color_rank(value)
            if self.fireworks[color] == rank:
                return slot
        return None

    def card_knowledge(self) -> np.ndarray:
        c = self.config
        knowledge = np.zeros((c.players, c.hand_size, c.num_values), bool)
        for player, hints in enumerate(self.hints):
            for slot, (colors, ranks) in enumerate(hints):
                for color in colors:
                    for rank in ranks:
                        knowledge[player, slot, color * c.ranks + rank] = True
        return knowledge

    def remaining_counts(self) -> np.ndarray:
        c = self.config
        counts = np.zeros(c.num_values, np.int32)
        for value in self.deck:
            counts[value] += 1
        for value in range(c.num_values):
            color, rank = self.color_rank(value)
            counts[value] -= self.discarded[value] + (rank < self.fireworks[color])
        return counts

    def private_observation(self, player: int) -> np.ndarray:
        c = self.config
        seen = np.zeros((c.players - 1, c.hand_size, c.num_values), np.float32)
        for offset in range(1, c.players):
            for slot, value in enumerate(self.hands[(player + offset) % c.players]):
                seen[offset - 1, slot, value] = 1
        return seen.reshape(-1)


def choose_actions(step: hanabi.HanabiStep, replays: list[Replay], strong: bool,
                   rng: np.random.Generator) -> np.ndarray:
    """Random legal moves; a `strong` player plays a scoring card when it holds one, else never
    plays (so games reach the end of the deck and full fireworks)."""
    actions = hanabi.random_legal_actions(step.legal_actions, rng)
    if not strong:
        return actions
    hand_size = replays[0].config.hand_size
    for game, replay in enumerate(replays):
        slot = replay.playable_slot()
        if slot is not None:
            actions[game] = hand_size + slot
        else:
            no_play = step.legal_actions[game].copy()
            no_play[hand_size:2 * hand_size] = False
            actions[game] = rng.choice(np.flatnonzero(no_play))
    return actions


def check_against_replays(step: hanabi.HanabiStep, replays: list[Replay]) -> None:
    config = replays[0].config
    np.testing.assert_array_equal(
        np.concatenate([step.private_observation, step.public_observation], axis=-1),
        step.observation)
    for game, replay in enumerate(replays):
        np.testing.assert_array_equal(step.card_knowledge[game], replay.card_knowledge())
        np.testing.assert_array_equal(step.remaining_counts[game], replay.remaining_counts())
        assert np.flatnonzero(step.legal_actions[game]).tolist() == replay.legal_actions()
        assert step.current_player[game] == replay.current_player
        for player in range(config.players):
            np.testing.assert_array_equal(step.private_observation[game, player],
                                          replay.private_observation(player))


def play_and_check(spec, backend: str, num_games: int, num_steps: int, strong: bool,
                   seed: int) -> list[int]:
    """Plays random games checked against replays at every step; returns the final scores."""
    config = make_config(spec)
    game = hanabi.HanabiGame(config, num_games, seed, backend)
    step = game.reset()
    replays = [Replay(config, deck) for deck in game.decks]
    rng = np.random.default_rng(seed)
    final_scores = []
    for _ in range(num_steps):
        check_against_replays(step, replays)
        actions = choose_actions(step, replays, strong, rng)
        step = game.step(actions)
        for index, replay in enumerate(replays):
            before = replay.score
            replay.apply(int(actions[index]))
            assert step.done[index] == replay.done
            assert step.score[index] == replay.score
            np.testing.assert_array_equal(step.rewards[index], replay.score - before)
            if replay.done:
                final_scores.append(replay.score)
                replays[index] = Replay(config, game.decks[index])
    check_against_replays(step, replays)
    return final_scores


@pytest.mark.parametrize("backend", hanabi.BACKENDS)
@pytest.mark.parametrize("spec", ["full", "small", "very_small", {"players": 3},
                                  {"players": 5, "preset": "small"}])
def test_features_match_random_play_replay(spec, backend):
    assert len(play_and_check(spec, backend, 8, 120, strong=False, seed=1)) > 10


@pytest.mark.parametrize("backend", hanabi.BACKENDS)
@pytest.mark.parametrize("spec", ["full", "very_small", {"players": 4},
                                  {"colors": 2, "ranks": 3, "hand_size": 6}])
def test_features_match_replay_to_the_end_of_the_deck(spec, backend):
    """Long games: empty deck, shrinking hands, completed fireworks and returned tokens."""
    scores = play_and_check(spec, backend, 6, 250, strong=True, seed=2)
    assert scores and max(scores) > 0
    if spec == "very_small":
        assert make_config(spec).max_score in scores


def test_deck_order_is_the_dealing_order():
    config = make_config("full")
    deck = hanabi.random_decks(config, 1, np.random.default_rng(0))
    step = hanabi.HanabiGame(config, 1, 0).reset(decks=deck)
    hands = step.private_observation[0, 1].reshape(config.hand_size, config.num_values)
    np.testing.assert_array_equal(hands.argmax(-1), deck[0, :config.hand_size])
