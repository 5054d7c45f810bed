"""`games.hanabi.layout` and `games.hanabi.rules` against OpenSpiel's own state and brute force.

Random OpenSpiel games are read back two ways: through the layout and the decoders, from
`observation_tensor`, and from the state's text (`str(state)`: hands, hints, tokens, fireworks,
deck size, discards) plus the moves as they were played. Every rule runs on numpy and on JAX
arrays under `jit` / `vmap`, with the same results.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pyspiel
import pytest

from games.hanabi import rules
from games.hanabi.config import HanabiConfig, make_config, preset_with_players
from games.hanabi.layout import MOVE_TYPES, action_layout, observation_layout

COLOR_LETTERS = "RYGWB"
SPECS = ["full", "small", {"players": 3, "colors": 3, "ranks": 4, "hand_size": 3,
                           "max_information_tokens": 5, "max_life_tokens": 2},
         {"preset": "small", "players": 5}]


@dataclasses.dataclass
class Point:
    """A decision point of an OpenSpiel game, read from the state's text."""

    observations: np.ndarray          # [players, observation_size]
    hands: list[list[int]]            # absolute seats
    hints: list[list[tuple[int, int]]]  # per card: (hinted color or -1, hinted rank or -1)
    fireworks: list[int]
    discards: np.ndarray              # [values]
    information: int
    life: int
    deck: int
    current: int
    legal: list[int]
    last: dict | None                 # the last move: mover, action, removed card value


def _card(config: HanabiConfig, text: str) -> int:
    return COLOR_LETTERS.index(text[0]) * config.ranks + int(text[1]) - 1


def _read(config: HanabiConfig, state) -> dict:
    """Hands, hints, tokens, fireworks, deck size and discards from OpenSpiel's state text."""
    text = str(state)
    fields = {line.split(":")[0]: line.split(":", 1)[1].strip()
              for line in text.splitlines() if ":" in line}
    hands, hints = [], []
    for block in text.split("Hands:\n", 1)[1].split("Deck size")[0].split("-----"):
        cards = [line.split(" || ") for line in block.splitlines() if "||" in line]
        hands.append([_card(config, card) for card, _ in cards])
        hints.append([(COLOR_LETTERS.find(hint[0]) if hint[0] != "X" else -1,
                       int(hint[1]) - 1 if hint[1] != "X" else -1) for _, hint in cards])
    discards = np.zeros(config.num_values)
    for card in fields["Discards"].split():
        discards[_card(config, card)] += 1
    return dict(hands=hands, hints=hints, discards=discards, life=int(fields["Life tokens"]),
                information=int(fields["Info tokens"]), deck=int(fields["Deck size"]),
                fireworks=[int(item[1:]) for item in fields["Fireworks"].split()])


def random_points(spec, seed: int, num_games: int = 3) -> tuple[HanabiConfig, list[Point]]:
    """Every decision point of a few random OpenSpiel games."""
    config = make_config(spec)
    game = pyspiel.load_game("hanabi", config.open_spiel_params())
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(num_games):
        state, last = game.new_initial_state(), None
        while not state.is_terminal():
            if state.is_chance_node():
                values, probs = zip(*state.chance_outcomes())
                state.apply_action(int(rng.choice(values, p=probs)))
                continue
            read = _read(config, state)
            player = state.current_player()
            points.append(Point(
                observations=np.array([state.observation_tensor(p) for p in
                                       range(config.players)], np.float32),
                current=player, legal=state.legal_actions(), last=last, **read))
            action = int(rng.choice(state.legal_actions()))
            slot = action % config.hand_size
            removed = read["hands"][player][slot] if action < 2 * config.hand_size else None
            last = dict(mover=player, action=action, card=removed, fireworks=read["fireworks"],
                        information=read["information"])
            state.apply_action(action)
    return config, points


@pytest.fixture(scope="module", params=range(len(SPECS)), ids=["full", "small", "odd_3p", "5p"])
def games(request):
    return random_points(SPECS[request.param], seed=request.param)


def _both(function, *arrays):
    """`function` on numpy arrays and jitted on JAX arrays; checks they agree, returns numpy's."""
    expected = function(*arrays)
    got = jax.jit(function)(*(jnp.asarray(array) for array in arrays))
    for want, have in zip(jax.tree.leaves(expected), jax.tree.leaves(got)):
        assert isinstance(want, (np.ndarray, np.generic)) and isinstance(have, jax.Array)
        assert want.dtype == have.dtype
        np.testing.assert_array_equal(want, have)
    return expected


# ---------------------------------------------------------------------------------------------
# Layouts.


@pytest.mark.parametrize("spec", SPECS)
def test_observation_fields_tile_the_observation_in_order(spec):
    config = make_config(spec)
    layout = observation_layout(config)
    fields = [value for field in dataclasses.fields(layout)
              if isinstance(value := getattr(layout, field.name), slice)
              and field.name not in ("hands", "board", "last_action", "card_knowledge", "private",
                                     "public") and not field.name.startswith("knowledge")]
    assert fields[0].start == 0 and fields[-1].stop == layout.card_knowledge.start
    assert all(a.stop == b.start for a, b in zip(fields, fields[1:]))
    sections = list(layout.sections.values())
    assert sections[0].start == 0 and sections[-1].stop == layout.size == config.observation_size
    assert all(a.stop == b.start for a, b in zip(sections, sections[1:]))
    assert (layout.private.stop, layout.public.stop) == (config.private_size, layout.size)
    assert layout.knowledge_width * config.players * config.hand_size == (
        layout.card_knowledge.stop - layout.card_knowledge.start)
    assert layout.in_public(layout.public) == slice(0, config.public_size)
    with pytest.raises(ValueError, match="not part of the public observation"):
        layout.in_public(layout.partner_cards)


def test_full_observation_sizes_are_hle_canonical():
    sizes = make_config("full").section_sizes  # HLE's canonical encoding, 2 players: 658 bits
    assert sizes == {"hands": 127, "board": 76, "discards": 50, "last_action": 55,
                     "card_knowledge": 350}


@pytest.mark.parametrize("spec", SPECS)
def test_action_layout_names_what_open_spiel_calls_each_action(spec):
    config = make_config(spec)
    game = pyspiel.load_game("hanabi", config.open_spiel_params())
    layout = action_layout(config)
    assert layout.size == config.num_actions == game.num_distinct_actions()
    state = game.new_initial_state()
    while state.is_chance_node():
        state.apply_action(state.chance_outcomes()[0][0])
    for action in range(layout.size):
        name = state.action_to_string(0, action)
        move = rules.decode_action(config, action)
        if action in range(layout.discard.start, layout.discard.stop):
            assert name == f"(Discard {action - layout.discard.start})" and move.is_discard
        elif action in range(layout.play.start, layout.play.stop):
            assert name == f"(Play {action - layout.play.start})" and move.is_play
        elif action in range(layout.color_hint.start, layout.color_hint.stop):
            offset, color = divmod(action - layout.color_hint.start, config.colors)
            assert name == f"(Reveal player +{offset + 1} color {COLOR_LETTERS[color]})"
            assert move.is_color_hint and (move.offset, move.color) == (offset + 1, color)
        else:
            offset, rank = divmod(action - layout.rank_hint.start, config.ranks)
            assert name == f"(Reveal player +{offset + 1} rank {rank + 1})"
            assert move.is_rank_hint and (move.offset, move.rank) == (offset + 1, rank)
    assert layout.hints == slice(layout.color_hint.start, layout.size)


def test_every_field_reads_back_open_spiels_state(games):
    config, points = games
    layout = observation_layout(config)
    p, h = config.players, config.hand_size

    def thermometer(bits):
        assert np.all(np.diff(bits) <= 0)
        return int(bits.sum())

    for point in points:
        for observer, observation in enumerate(point.observations):
            seats = [(observer + offset) % p for offset in range(p)]
            assert thermometer(observation[layout.deck]) == point.deck
            assert thermometer(observation[layout.information_tokens]) == point.information
            assert thermometer(observation[layout.life_tokens]) == point.life
            missing = [len(point.hands[seat]) < h for seat in seats]
            np.testing.assert_array_equal(observation[layout.missing_cards], missing)
            blocks = observation[layout.card_knowledge].reshape(p, h, layout.knowledge_width)
            for offset, seat in enumerate(seats):
                for slot, (color, rank) in enumerate(point.hints[seat]):
                    np.testing.assert_array_equal(blocks[offset, slot, layout.knowledge_color],
                                                  np.arange(config.colors) == color)
                    np.testing.assert_array_equal(blocks[offset, slot, layout.knowledge_rank],
                                                  np.arange(config.ranks) == rank)
            last = observation[layout.last_action]
            if point.last is None:
                assert not last.any()
                continue
            move = rules.decode_action(config, point.last["action"])
            kind = np.flatnonzero([move.is_play, move.is_discard, move.is_color_hint,
                                   move.is_rank_hint])[0]
            assert MOVE_TYPES[int(np.argmax(observation[layout.last_move_type]))] == (
                "play", "discard", "reveal_color", "reveal_rank")[kind]
            mover = (point.last["mover"] - observer) % p
            assert np.argmax(observation[layout.last_player]) == mover
            hint = bool(move.is_color_hint | move.is_rank_hint)
            assert observation[layout.last_target].sum() == hint
            assert observation[layout.last_revealed].any() == hint
            if hint:
                assert np.argmax(observation[layout.last_target]) == (mover + move.offset) % p
            assert observation[layout.last_color].sum() == bool(move.is_color_hint)
            assert observation[layout.last_rank].sum() == bool(move.is_rank_hint)
            scored = point.fireworks != point.last["fireworks"]
            assert observation[layout.last_scored].item() == (bool(move.is_play) and scored)
            added = scored and point.information > point.last["information"]
            assert observation[layout.last_added_token].item() == added


# ---------------------------------------------------------------------------------------------
# Decoders.


def test_decoders_read_back_open_spiels_state(games):
    config, points = games
    layout = observation_layout(config)
    p, h = config.players, config.hand_size
    observations = np.stack([point.observations for point in points])  # [N, players, obs]
    for view, public in ((observations, False), (observations[..., layout.public], True)):
        fireworks, discards, (removed, mover, slot, value) = _both(lambda o, public=public: (
            rules.fireworks_from_observation(config, o, public=public),
            rules.discards_from_observation(config, o, public=public),
            rules.last_removed_card(config, o, public=public)), view)
        for index, point in enumerate(points):
            np.testing.assert_array_equal(fireworks[index], [point.fireworks] * p)
            np.testing.assert_array_equal(discards[index], [point.discards] * p)
            last = point.last
            expected = last is not None and last["card"] is not None
            np.testing.assert_array_equal(removed[index], expected)
            if expected:
                np.testing.assert_array_equal(mover[index], (last["mover"] - np.arange(p)) % p)
                np.testing.assert_array_equal(slot[index], last["action"] % h)
                np.testing.assert_array_equal(value[index], last["card"])
    private = observations[..., layout.private]
    partners, hands = _both(lambda o, public=public: (rules.partner_hands_from_private(config, o),
                                       rules.seat_hands_from_private(config, o)), private)
    assert partners.shape == (len(points), p, p - 1, h) and hands.shape == (len(points), p, h)
    for index, point in enumerate(points):
        padded = [hand + [rules.NO_CARD] * (h - len(hand)) for hand in point.hands]
        np.testing.assert_array_equal(hands[index], padded)
        for observer in range(p):
            np.testing.assert_array_equal(
                partners[index, observer], [padded[(observer + o) % p] for o in range(1, p)])
        np.testing.assert_array_equal(  # unbatched, as for one game under vmap
            rules.partner_hands_from_private(config, private[index, 0]), partners[index, 0])


@pytest.mark.parametrize("function,size", [
    (lambda c, o: rules.fireworks_from_observation(c, o, public=True), "public_size"),
    (lambda c, o: rules.discards_from_observation(c, o, public=False), "observation_size"),
    (lambda c, o: rules.last_removed_card(c, o, public=True), "public_size"),
    (rules.partner_hands_from_private, "private_size"),
    (rules.seat_hands_from_private, "private_size"),
])
def test_decoders_refuse_an_observation_of_the_wrong_length(function, size):
    config = make_config("small")
    wrong = np.zeros(getattr(config, size) + 1, np.float32)
    with pytest.raises(ValueError, match=f"must have {getattr(config, size)} entries"):
        function(config, wrong)


# ---------------------------------------------------------------------------------------------
# Legal moves, the deck, card status.


def test_legal_actions_are_open_spiels(games):
    config, points = games
    layout = observation_layout(config)
    movers = np.stack([point.observations[point.current] for point in points])
    partners = rules.partner_hands_from_private(config, movers[:, layout.private])
    held = np.array([len(point.hands[point.current]) for point in points], np.int32)
    tokens = np.array([point.information for point in points], np.int32)
    masks = _both(lambda a, b, c: rules.legal_actions(config, a, b, c), held, tokens, partners)
    for mask, point in zip(masks, points):
        assert np.flatnonzero(mask).tolist() == point.legal
    hints = _both(lambda a, b: rules.legal_hints(config, a, b), partners, tokens > 0)
    np.testing.assert_array_equal(hints, masks[:, action_layout(config).hints])
    single = rules.legal_actions(config, held[0], tokens[0], partners[0])
    np.testing.assert_array_equal(single, masks[0])


@pytest.mark.parametrize("spec", SPECS)
def test_copies_and_deck_match_open_spiels_first_deal(spec):
    config = make_config(spec)
    state = pyspiel.load_game("hanabi", config.open_spiel_params()).new_initial_state()
    values, probs = zip(*state.chance_outcomes())
    copies = np.zeros(config.num_values)
    copies[list(values)] = np.array(probs) * config.deck_size
    np.testing.assert_allclose(rules.copies_per_value(config), copies)
    np.testing.assert_array_equal(rules.copies_per_rank(config), copies[:config.ranks])
    np.testing.assert_array_equal(
        rules.deck_values(config),
        np.repeat(np.arange(config.num_values), np.round(copies).astype(int)))


def _random_boards(config: HanabiConfig, rng: np.random.Generator, count: int):
    """Random fireworks [count, colors] and discards [count, values] (not all reachable)."""
    fireworks = rng.integers(0, config.ranks + 1, (count, config.colors))
    discards = rng.integers(0, rules.copies_per_value(config) + 1, (count, config.num_values))
    return fireworks, discards


def _status_by_brute_force(config: HanabiConfig, fireworks, discards) -> np.ndarray:
    status = np.zeros((config.num_values, 3), np.float32)
    for value in range(config.num_values):
        color, rank = divmod(value, config.ranks)
        left = lambda k, color=color: config.copies_of_rank(k) - discards[color * config.ranks + k]
        dead = rank < fireworks[color] or any(
            left(k) <= 0 for k in range(fireworks[color], rank))
        status[value] = [rank == fireworks[color], dead, not dead and left(rank) == 1]
    return status


@pytest.mark.parametrize("spec", SPECS)
def test_card_status_and_remaining_counts_by_brute_force(spec):
    config = make_config(spec)
    fireworks, discards = _random_boards(config, np.random.default_rng(0), 200)
    fireworks_f, discards_f = fireworks.astype(np.float32), discards.astype(np.float32)
    status = rules.card_status(config, fireworks_f, discards_f)
    assert status.dtype == np.float32
    assert status.shape == (200, config.num_values, rules.NUM_CARD_STATUSES)
    vmapped = jax.jit(jax.vmap(lambda f, d: rules.card_status(config, f, d)))(fireworks_f,
                                                                             discards_f)
    assert vmapped.dtype == jnp.float32
    np.testing.assert_array_equal(vmapped, status)
    for index in range(200):
        np.testing.assert_array_equal(
            status[index], _status_by_brute_force(config, fireworks[index], discards[index]))
        np.testing.assert_array_equal(
            rules.card_status(config, fireworks[index], discards[index]), status[index])
    remaining = _both(lambda f, d: rules.remaining_counts(config, f, d), fireworks, discards)
    played = np.arange(config.ranks) < fireworks[:, :, None]
    np.testing.assert_array_equal(remaining, rules.copies_per_value(config) - discards
                                  - played.reshape(200, -1))


# ---------------------------------------------------------------------------------------------
# Seat rotation and slot removal.


@pytest.mark.parametrize("rows", [
    np.arange(5 * 3 * 2, dtype=np.int8).reshape(5, 3, 2) - 7,
    np.random.default_rng(0).random((3, 4)) > 0.5,
    np.array([[1.5, np.nan], [np.inf, -np.inf], [-0.0, 2.0 ** -140]], np.float32),
    np.arange(4, dtype=np.int32) - 2,
], ids=["int8", "bool", "float32", "int32_1d"])
def test_relative_rows_equal_a_gather(rows):
    players = rows.shape[0]
    for seat in range(players):
        gathered = rows[(seat + np.arange(players)) % players]
        np.testing.assert_array_equal(rules.relative_rows(rows, seat), gathered)
        got = jax.jit(rules.relative_rows)(jnp.asarray(rows), jnp.int32(seat))
        assert got.dtype == rows.dtype
        np.testing.assert_array_equal(got, gathered)
    rotated = jax.vmap(rules.relative_rows, in_axes=(None, 0))(jnp.asarray(rows),
                                                               jnp.arange(players))
    np.testing.assert_array_equal(rotated, [rows[(s + np.arange(players)) % players]
                                            for s in range(players)])


@pytest.mark.parametrize("axis", [-1, -2])
def test_remove_slot_shifts_the_later_slots_down(axis):
    rng = np.random.default_rng(1)
    table = rng.integers(0, 9, (3, 4, 5)).astype(np.int8)
    jitted = jax.jit(lambda t, s: rules.remove_slot(t, s, -1, axis))
    for slot in range(table.shape[axis]):
        expected = np.moveaxis(table, axis, 0).copy()
        expected = np.concatenate([np.delete(expected, slot, axis=0),
                                   np.full_like(expected[:1], -1)])
        expected = np.moveaxis(expected, 0, axis)
        np.testing.assert_array_equal(rules.remove_slot(table, slot, -1, axis), expected)
        got = jitted(jnp.asarray(table), slot)
        assert got.dtype == table.dtype
        np.testing.assert_array_equal(got, expected)


def test_preset_with_players_keeps_the_presets_players_at_zero():
    assert preset_with_players("small") == make_config("small")
    three = preset_with_players("full", 3)
    assert three == make_config({"preset": "full", "players": 3}) and three.players == 3
    with pytest.raises(ValueError, match="players"):
        preset_with_players("full", 6)
