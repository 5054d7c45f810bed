"""A Hanabi game played by agents (and people) as a JSON-able record of every move and belief.

`play_game(seats, deck, game_key)` plays one game through OpenSpiel with the agent API of
`bad.hanabi.agent` (`public_context`, `decide`, `observe`), as `bad.hanabi.agents.OpenSpielPolicy`
and `bad.hanabi.evaluation.play_open_spiel` do: move `t` uses the key `fold_in(game_key, t)`,
shared by every seat, and every agent updates its public belief with every move played. A seat is
an `Agent` or `PERSON`, whose moves a `choose` callback gives. `play_games` deals its games as
`experiments.hanabi_crossplay` does (`random_decks` of `default_rng(seed)`, the keys
`split(PRNGKey(seed), games)`), so that self-play gives `play_open_spiel`'s games.

The record (`play_game`'s dict) holds the game's parameters, the seats' names, `steps` (one per
move: the board before it, `board_of`, and the move, the actor's most likely moves and the
beliefs) and `final` (the board after the last move). Card values are `color * ranks + rank`
and seats absolute. A step's `belief` is the public belief, over every hand slot, of the agent
in the seat to move (at a person's move, of the next agent seat after it): BB, V2 or exact for
BAD, V0 for IPPO; `v0` is the count-only belief; `cross_entropy` sums `-log B(true card)` over
the occupied slots for both, over `cards` cards (`hanabi_evaluation`'s per-card measure).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pyspiel

from bad.hanabi import agent as hanabi_agent
from bad.hanabi import agents
from bad.hanabi import belief as hanabi_belief
from bad.hanabi import network as hanabi_network
from bad.hanabi.agent_files import Agent
from games import hanabi
from games.hanabi import rules as hanabi_rules
from games.hanabi.config import HanabiConfig
from games.hanabi.layout import observation_layout
from games.hanabi.views import COLOR_CHARS

PERSON = None  # a seat whose moves `choose` gives
TOP_MOVES = 3  # the actor's most likely moves each step lists
DECIMALS = 4   # of the beliefs and probabilities in the record

# A person's move: (the step so far: the board, seat and beliefs; the legal actions) -> action.
Chooser = Callable[[dict[str, Any], list[int]], int]


def card_name(config: HanabiConfig, value: int) -> str:
    """`R3` for the red 3 (HLE's color letters, ranks from 1); `--` for an empty slot."""
    if value == hanabi_rules.NO_CARD:
        return "--"
    color, rank = hanabi_rules.card_colors(config, value), hanabi_rules.card_ranks(config, value)
    return f"{COLOR_CHARS[color]}{rank + 1}"


def describe_move(config: HanabiConfig, action: int, actor: int,
                  hand: Sequence[int] | None = None) -> str:
    """The move `action` of seat `actor` in words (`P1 plays R3 (slot 0)` when its `hand` is
    given, else `P1 plays slot 0`; `P0 tells P1 rank 2`): seats absolute, slots from 0, ranks
    from 1."""
    move = hanabi_rules.decode_action(config, action)
    if move.is_play or move.is_discard:
        verb, slot = "plays" if move.is_play else "discards", int(move.slot)
        if hand is None:
            return f"P{actor} {verb} slot {slot}"
        return f"P{actor} {verb} {card_name(config, hand[slot])} (slot {slot})"
    target = (actor + int(move.offset)) % config.players
    told = (f"color {COLOR_CHARS[int(move.color)]}" if move.is_color_hint
            else f"rank {int(move.rank) + 1}")
    return f"P{actor} tells P{target} {told}"


def _thermometer(observation: np.ndarray, field: slice) -> int:
    return int(observation[field].sum())


def board_of(config: HanabiConfig, state: Any) -> dict[str, Any]:
    """The facts of an OpenSpiel Hanabi state, read from its canonical observations: every hand
    (true cards), what each card's owner was told (`hinted`: [color, rank] or None each), the
    fireworks, tokens, cards left in the deck, discards (copies per value) and the score."""
    layout = observation_layout(config)
    seen = np.stack([np.asarray(state.observation_tensor(p), np.float32)
                     for p in range(config.players)])
    hands = hanabi_rules.seat_hands_from_private(config, seen[:, layout.private])
    # Seat 0's observation lists every player's card knowledge by offset from seat 0: by seat.
    blocks = seen[0, layout.card_knowledge].reshape(config.players, config.hand_size, -1)

    def told(bits: np.ndarray) -> int | None:
        return int(np.argmax(bits)) if bits.any() else None

    hinted = [[[told(block[layout.knowledge_color]), told(block[layout.knowledge_rank])]
               for block in seat] for seat in blocks]
    return {
        "hands": hands.tolist(), "hinted": hinted,
        "fireworks": hanabi_rules.fireworks_from_observation(config, seen[0], public=False)
        .astype(int).tolist(),
        "information_tokens": _thermometer(seen[0], layout.information_tokens),
        "life_tokens": _thermometer(seen[0], layout.life_tokens),
        "deck_size": _thermometer(seen[0], layout.deck),
        "discards": hanabi_rules.discards_from_observation(config, seen[0], public=False)
        .astype(int).tolist(),
        "score": int(round(state.returns()[0])),
    }


@functools.cache
def _agent_step(config: hanabi_agent.AgentConfig, greedy: bool) -> Callable[..., tuple]:
    """One agent's part of a move, compiled once per config: (the action, decided when the given
    one is negative; the actor's policy over every action; the belief marginals; the evidence
    after the action)."""

    def step(params, observation, evidence, key, action):
        context = hanabi_agent.public_context(config, observation, evidence, key)
        decision = hanabi_agent.decide(config, params, context, observation, greedy)
        logits = hanabi_network.masked(hanabi_network.policy_logits(
            config, params["policy"], context.public_input, observation.partner_hands),
            observation.legal_actions)
        action = jnp.where(action < 0, decision.action, action).astype(jnp.int32)
        evidence = hanabi_agent.observe(config, params, context, observation, action)
        return action, jax.nn.softmax(logits), context.belief.marginals, evidence

    return jax.jit(step)


def _cross_entropy(belief: np.ndarray, hands: np.ndarray) -> float:
    """`-log B(true card)` summed over the occupied slots of `hands` [players, hand_size]."""
    held = hands >= 0
    prob = np.take_along_axis(belief, np.maximum(hands, 0)[..., None], axis=-1)[..., 0]
    return float(-np.log(np.maximum(prob[held], 1e-12)).sum())


def _rounded(array: Any) -> list:
    return np.round(np.asarray(array, np.float64), DECIMALS).tolist()


def check_seats(seats: Sequence[Agent | None]) -> HanabiConfig:
    """The game of `seats` (one per player, at least one `Agent`, all of one game)."""
    seated = [agent for agent in seats if agent is not PERSON]
    if not seated:
        raise ValueError("seats must hold at least one agent.")
    game = seated[0].config.game
    if any(agent.config.game != game for agent in seated):
        raise ValueError(f"seats must hold agents of one game; {game.open_spiel_params()} and "
                         f"another are mixed.")
    if len(seats) != game.players:
        raise ValueError(f"seats must hold one entry per player ({game.players}), got "
                         f"{len(seats)}.")
    return game


def _belief_seat(seats: Sequence[Agent | None], actor: int) -> int:
    """The actor's seat if an agent plays it, else the next agent seat after it."""
    return next(seat % len(seats) for seat in range(actor, actor + len(seats))
                if seats[seat % len(seats)] is not PERSON)


def _person_move(choose: Chooser | None, step: dict[str, Any], legal: list[int]) -> int:
    """A person's move, checked legal."""
    if choose is None:
        raise ValueError("choose must be given for a seat played by a person.")
    action = int(choose(step, legal))
    if action not in legal:
        raise ValueError(f"choose must return a legal action, got {action}.")
    return action


def play_game(seats: Sequence[Agent | None], deck: np.ndarray, game_key: jax.Array,
              greedy: bool = False, choose: Chooser | None = None,
              on_step: Callable[[dict[str, Any]], None] | None = None,
              names: Sequence[str] | None = None) -> dict[str, Any]:
    """The record (module docstring) of one game dealt from `deck` (card values in dealing
    order); seat `p` is played by `seats[p]`, an `Agent` or `PERSON` (`choose` gives its moves)
    and called `names[p]` (by default `seat_name`). `on_step` sees each step once its move is
    played; `greedy` agents play their most likely move."""
    config = check_seats(seats)
    game = pyspiel.load_game("hanabi", config.open_spiel_params())
    deck = hanabi.check_decks(config, np.asarray(deck)[None], 1)[0]
    agents_of = {id(agent): agent for agent in seats if agent is not PERSON}
    evidence = {key: hanabi_agent.initial_evidence(agent.config)
                for key, agent in agents_of.items()}
    state, dealt = game.new_initial_state(), 0
    steps: list[dict[str, Any]] = []
    while not state.is_terminal():
        if state.is_chance_node():
            state.apply_action(int(deck[dealt]))
            dealt += 1
            continue
        actor = state.current_player()
        board = board_of(config, state)
        step = {"move_number": len(steps), "player": actor, **board}
        observation = agents.observation_from_open_spiel(config, state)
        key = jax.random.fold_in(game_key, len(steps))
        legal = list(state.legal_actions())
        hands = np.asarray(board["hands"])
        # The actor's agent decides first; then every other agent observes the move played.
        order = sorted(agents_of, key=lambda agent_id: agent_id != id(seats[actor]))
        action = -1 if seats[actor] is not PERSON else _person_move(choose, step, legal)
        beliefs = {}
        for agent_id in order:
            agent = agents_of[agent_id]
            played, probs, beliefs[agent_id], evidence[agent_id] = _agent_step(
                agent.config, greedy)(agent.params, observation, evidence[agent_id], key,
                                      jnp.asarray(action, jnp.int32))
            if action < 0:
                action, probs = int(played), np.asarray(probs, np.float64)
                step["top_moves"] = [
                    {"action": a, "text": describe_move(config, a, actor, hands[actor]),
                     "prob": round(float(probs[a]), DECIMALS)}
                    for a in sorted(legal, key=lambda a: -probs[a])[:TOP_MOVES]]
        seen = _belief_seat(seats, actor)
        belief = np.asarray(beliefs[id(seats[seen])], np.float64)
        v0 = np.asarray(hanabi_belief.v0_belief(observation.card_knowledge,
                                                observation.remaining_counts), np.float64)
        step.update(belief_seat=seen, belief=_rounded(belief), v0=_rounded(v0),
                    cards=int((hands >= 0).sum()),
                    cross_entropy={"v0": _cross_entropy(v0, hands),
                                   "agent": _cross_entropy(belief, hands)},
                    action=action, move=describe_move(config, action, actor, hands[actor]))
        step.setdefault("top_moves", [])
        state.apply_action(action)
        steps.append(step)
        if on_step is not None:
            on_step(step)
    return {"game": config.open_spiel_params(), "colors": COLOR_CHARS[:config.colors],
            "seats": list(names) if names else [seat_name(agent) for agent in seats],
            "belief_names": [None if agent is PERSON else agent.config.belief_name
                             for agent in seats],
            "steps": steps, "final": board_of(config, state),
            "score": int(round(state.returns()[0])), "max_score": config.max_score}


def seat_name(agent: Agent | None) -> str:
    """What a seat is called in a record by default: `person`, or the agent's method and
    belief."""
    return "person" if agent is PERSON else f"{agent.config.method} ({agent.config.belief_name})"


def deal(config: HanabiConfig, num_games: int, seed: int) -> tuple[np.ndarray, jax.Array]:
    """The deck orders [num_games, deck_size] and game keys [num_games] of `seed`'s games."""
    if num_games < 1:
        raise ValueError(f"num_games must be at least 1, got {num_games}.")
    decks = hanabi.random_decks(config, num_games, np.random.default_rng(seed))
    return decks, jax.random.split(jax.random.PRNGKey(seed), num_games)


def play_games(seats: Sequence[Agent | None], num_games: int, seed: int, greedy: bool = False,
               **kwargs: Any) -> list[dict[str, Any]]:
    """`num_games` records of `seats`, dealt and keyed from `seed` (module docstring); `kwargs`
    go to `play_game`."""
    decks, game_keys = deal(check_seats(seats), num_games, seed)
    return [play_game(seats, deck, key, greedy, **kwargs) for deck, key in zip(decks, game_keys)]
