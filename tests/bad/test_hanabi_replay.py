"""bad.hanabi.replay against independent references: OpenSpiel's own text of every state, the
beliefs and policy of `bad.hanabi.agents.OpenSpielPolicy`, and
`hanabi_evaluation.play_open_spiel`."""

import functools

import jax
import numpy as np
import pyspiel
import pytest

from bad.hanabi import agent as hanabi_agent
from bad.hanabi import agents
from bad.hanabi import evaluation as hanabi_evaluation
from bad.hanabi import network as hanabi_network
from bad.hanabi import replay as hanabi_replay
from bad.hanabi.agent import AgentConfig
from games import hanabi
from games.hanabi.config import make_config


@functools.cache
def three_player_agent() -> agents.Agent:
    """A fresh (untrained) 3-player BAD agent: no 3-player agent is shipped."""
    config = AgentConfig(make_config({"preset": "very_small", "players": 3}), hidden_sizes=(8,))
    return agents.make_agent(config, hanabi_network.init_params(config, jax.random.PRNGKey(2)))


@functools.cache
def records(name: str, num_games: int = 2, seed: int = 3) -> tuple:
    agent = three_player_agent() if name == "three" else agents.load_pretrained(name)
    seats = [agent] * agent.config.game.players
    return agent, tuple(hanabi_replay.play_games(seats, num_games, seed))


def parse_open_spiel(text: str, colors: str) -> dict:
    """The facts of OpenSpiel's `str(state)` of Hanabi: tokens, fireworks, hands and what
    their owners were told (`X` for untold), deck size and discards as card names."""
    lines = text.splitlines()
    field = {line.split(":")[0]: line.split(":", 1)[1].strip() for line in lines if ":" in line}
    hands_text = text.split("Hands:\n")[1].split("Deck size")[0].strip()
    hands = [[line.split(" || ") for line in block.strip().splitlines() if "||" in line]
             for block in hands_text.split("-----")]
    return {"life_tokens": int(field["Life tokens"]),
            "information_tokens": int(field["Info tokens"]),
            "fireworks": [int(item[1:]) for item in field["Fireworks"].split()],
            "hands": [[card for card, _ in hand] for hand in hands],
            "told": [[known.split("|")[0] for _, known in hand] for hand in hands],
            "deck_size": int(field["Deck size"]), "discards": sorted(field["Discards"].split())}


def record_facts(config, board: dict) -> dict:
    """`parse_open_spiel`'s facts of a record's board."""
    name = functools.partial(hanabi_replay.card_name, config)
    colors = hanabi_replay.COLOR_CHARS
    told = [["".join("X" if value is None else (colors[value] if kind == 0 else str(value + 1))
                     for kind, value in enumerate(hint))
             for hint, card in zip(hints, hand) if card >= 0]
            for hints, hand in zip(board["hinted"], board["hands"])]
    return {"life_tokens": board["life_tokens"], "information_tokens": board["information_tokens"],
            "fireworks": board["fireworks"],
            "hands": [[name(card) for card in hand if card >= 0] for hand in board["hands"]],
            "told": told, "deck_size": board["deck_size"],
            "discards": sorted(name(value) for value, copies in enumerate(board["discards"])
                               for _ in range(copies))}


def open_spiel_states(config, record: dict, deck: np.ndarray):
    """(step or None at the end, the OpenSpiel state before it) replaying the record's moves."""
    game = pyspiel.load_game("hanabi", config.open_spiel_params())
    state, dealt, steps = game.new_initial_state(), 0, iter(record["steps"])
    while True:
        while state.is_chance_node():
            state.apply_action(int(deck[dealt]))
            dealt += 1
        if state.is_terminal():
            yield None, state
            return
        step = next(steps)
        yield step, state
        state.apply_action(step["action"])


@pytest.mark.parametrize("name", ["very_small", "three"])
def test_every_board_is_open_spiels_state(name):
    agent, games = records(name)
    config = agent.config.game
    decks, _ = hanabi_replay.deal(config, len(games), seed=3)
    for record, deck in zip(games, decks):
        checked = 0
        for step, state in open_spiel_states(config, record, deck):
            board = record["final"] if step is None else step
            assert record_facts(config, board) == parse_open_spiel(str(state), record["colors"])
            assert board["score"] == state.returns()[0]
            if step is not None:
                assert step["player"] == state.current_player()
                assert step["action"] in state.legal_actions()
                assert step["move"] == hanabi_replay.describe_move(
                    config, step["action"], step["player"], step["hands"][step["player"]])
            checked += 1
        assert checked == len(record["steps"]) + 1
        assert record["score"] == record["final"]["score"]


@pytest.mark.parametrize("name", ["very_small", "three"])
def test_beliefs_and_policies_are_open_spiel_policys(name):
    """Each step's belief is the agent's public belief from `OpenSpielPolicy.evidence`, its top
    moves the policy's most likely moves, and its cross-entropies those of the belief."""
    agent, games = records(name)
    config = agent.config.game
    decks, keys = hanabi_replay.deal(config, len(games), seed=3)
    game = pyspiel.load_game("hanabi", config.open_spiel_params())
    for record, deck, key in zip(games, decks, keys):
        policy = agents.OpenSpielPolicy(agent, game, game_key=key)
        for step, state in open_spiel_states(config, record, deck):
            if step is None:
                break
            observation = agents.observation_from_open_spiel(config, state)
            belief, _ = hanabi_agent.public_view(agent.config, observation, policy.evidence(state))
            np.testing.assert_allclose(step["belief"], belief.marginals, atol=2e-4)
            probs = policy.action_probabilities(state)
            for move in step["top_moves"]:
                assert move["prob"] == pytest.approx(probs[move["action"]], abs=2e-4)
            best = sorted(probs.values(), reverse=True)[:hanabi_replay.TOP_MOVES]
            np.testing.assert_allclose([m["prob"] for m in step["top_moves"]], best, atol=2e-4)
            hands = np.asarray(step["hands"])
            truth = np.asarray(step["belief"])[hands >= 0, hands[hands >= 0]]
            assert step["cross_entropy"]["agent"] == pytest.approx(-np.log(truth).sum(), abs=1e-2)


def test_self_play_records_are_play_open_spiels_games():
    """Scores, lengths and belief cross-entropy sums (V0 and BB) of `play_open_spiel` on the
    same deals and keys."""
    agent, games = records("very_small", 3, seed=4)
    config = agent.config.game
    decks, _ = hanabi_replay.deal(config, 3, seed=4)
    evaluation = hanabi_evaluation.play_open_spiel(
        agent.config, agent.params, hanabi.HanabiGame(config, num_games=3, seed=0), decks,
        jax.random.PRNGKey(4))
    assert [record["score"] for record in games] == evaluation.scores.tolist()
    assert [len(record["steps"]) for record in games] == evaluation.moves.tolist()
    assert [sum(s["cards"] for s in r["steps"]) for r in games] == evaluation.cards.tolist()
    sums = [[sum(s["cross_entropy"][k] for s in r["steps"]) for k in ("v0", "agent")]
            for r in games]
    np.testing.assert_allclose(sums, evaluation.cross_entropy_sums[:, [0, 2]], rtol=1e-4)


def test_same_seed_same_game_and_a_person_seat():
    agent, games = records("very_small")
    again = hanabi_replay.play_games([agent, agent], 2, seed=3)
    assert list(games) == again
    chosen = []

    def first_legal(step, legal):
        assert step["player"] == 1 and "belief" not in step
        chosen.append(legal[0])
        return legal[0]

    decks, keys = hanabi_replay.deal(agent.config.game, 1, seed=0)
    record = hanabi_replay.play_game([agent, hanabi_replay.PERSON], decks[0], keys[0],
                                     choose=first_legal)
    person_steps = [step for step in record["steps"] if step["player"] == 1]
    assert [step["action"] for step in person_steps] == chosen and chosen
    assert all(step["top_moves"] == [] and step["belief_seat"] == 0 for step in person_steps)
    assert record["seats"][1] == "person"
    with pytest.raises(ValueError, match="legal action"):
        hanabi_replay.play_game([hanabi_replay.PERSON, agent], decks[0], keys[0],
                                choose=lambda step, legal: 99)


@pytest.mark.parametrize("seats, message", [
    ([hanabi_replay.PERSON, hanabi_replay.PERSON], "at least one agent"),
    (["very_small"], "one entry per player"),
    (["very_small", "small"], "one game"),
])
def test_bad_seats_are_refused(seats, message):
    seats = [seat if seat is None else agents.load_pretrained(seat) for seat in seats]
    with pytest.raises(ValueError, match=message):
        hanabi_replay.play_games(seats, 1, seed=0)
