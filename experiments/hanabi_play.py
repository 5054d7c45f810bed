"""Play a seat of a Hanabi game in the terminal against trained agents.

    python -m experiments.hanabi_play --agents=full --seat=0 --output_dir=runs/play

The board is drawn in plain text: cards as color letter and rank (`R3`), what each card's owner
was told in brackets (`[R?]`: told red, not the rank), your own cards as those marks alone.
Your legal moves are listed by action id; type one. Each agent move is announced with the agent's
three most likely moves and their probabilities. Bad input is answered in one line and asked
again; end of input (Ctrl-D) ends the program. At the end: the final score and `replay.html`
(`experiments.hanabi_replay`) of the game in `--output_dir`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

from bad.hanabi import replay as hanabi_replay
from experiments import common, config_flags, run_files
from experiments.replay_page import load_seats, write_page
from games.hanabi.config import HanabiConfig


@dataclasses.dataclass(frozen=True)
class PlayConfig:
    """The other seats' agents, your seat, the deal and where the replay goes.

    Attributes:
      agents: The agents of the other seats, in seat order (or one for all): pretrained names
        (very_small, small, full, full_3p, full_4p, full_5p) or agent files.
      seat: Your seat (0 moves first).
      seed: Seed of the deal and of the agents' move keys.
      greedy: Agents play their most likely move instead of sampling.
      output_dir: Where replay.html goes.
    """

    agents: tuple[str, ...] = ("full",)
    seat: int = 0
    seed: int = 0
    greedy: bool = False
    output_dir: str = "runs/hanabi_play"

    def __post_init__(self):
        if not 0 <= self.seed <= common.SEED_MAX:
            raise ValueError(f"seed must be in [0, {common.SEED_MAX}], got {self.seed}.")


PLAY_FLAGS = tuple(field.name for field in dataclasses.fields(PlayConfig))
config_flags.define(PlayConfig, PLAY_FLAGS)


class EndOfInput(Exception):
    """The person closed the input."""


def draw_board(config: HanabiConfig, step: dict[str, Any], you: int,
               names: Sequence[str]) -> str:
    """The board of a step as plain text, seen from seat `you` (your own cards hidden)."""
    card = lambda value: hanabi_replay.card_name(config, value)  # noqa: E731
    colors = hanabi_replay.COLOR_CHARS
    fireworks = " ".join(f"{colors[c]}{n}" for c, n in enumerate(step["fireworks"]))
    discards = " ".join(card(value) for value, copies in enumerate(step["discards"])
                        for _ in range(copies)) or "none"
    lines = [f"fireworks {fireworks} | info {step['information_tokens']}/"
             f"{config.max_information_tokens} | lives {step['life_tokens']}/"
             f"{config.max_life_tokens} | deck {step['deck_size']} | score {step['score']}",
             f"discards: {discards}"]
    for seat, hand in enumerate(step["hands"]):
        cards = []
        for slot, value in enumerate(hand):
            if value < 0:
                continue
            color, rank = step["hinted"][seat][slot]
            told = ((colors[color] if color is not None else "?")
                    + (str(rank + 1) if rank is not None else "?"))
            cards.append(f"{slot}:[{told}]" if seat == you else f"{slot}:{card(value)}[{told}]")
        who = "you" if seat == you else names[seat]
        lines.append(f"P{seat} ({who}): {' '.join(cards)}")
    return "\n".join(lines)


def read_move(config: HanabiConfig, legal: Sequence[int], you: int,
              read: Callable[[str], str] = input) -> int:
    """Asks until `read` gives the id of a legal move; raises `EndOfInput` at end of input."""
    while True:
        try:
            text = read("your move (action id): ").strip()
        except EOFError:
            raise EndOfInput from None
        if not text.lstrip("-").isdigit():
            print(f"{text!r} is not a number; type the action id of a move listed above.")
        elif not 0 <= int(text) < config.num_actions:
            print(f"there is no move {text}; action ids go from 0 to {config.num_actions - 1}.")
        elif int(text) not in legal:
            print(f"move {text} ({hanabi_replay.describe_move(config, int(text), you)}) is not "
                  "legal now; pick one listed above.")
        else:
            return int(text)


def person(config: HanabiConfig, you: int, names: Sequence[str]) -> hanabi_replay.Chooser:
    """The `choose` of `hanabi_replay.play_game` for the person at seat `you`."""

    def choose(step: dict[str, Any], legal: list[int]) -> int:
        print("\n" + draw_board(config, step, you, names))
        for action in legal:
            print(f"  {action:3d}  {hanabi_replay.describe_move(config, action, you)}")
        return read_move(config, legal, you)

    return choose


def announce(you: int) -> Callable[[dict[str, Any]], None]:
    """The `on_step` that prints every move, the agents' with their most likely moves."""

    def on_step(step: dict[str, Any]) -> None:
        tops = ", ".join(f"{move['text']} {move['prob']:.0%}" for move in step["top_moves"])
        print(f"move {step['move_number'] + 1}: {step['move']}"
              + (f"   (top moves: {tops})" if step["player"] != you and tops else ""), flush=True)

    return on_step


def main(argv: Sequence[str]) -> None:
    del argv  # run_main refuses positional arguments
    run = config_flags.build(PlayConfig, PLAY_FLAGS)
    seats, names = load_seats(run.agents, person=run.seat)
    config = next(agent for agent in seats if agent is not None).config.game
    output_dir = run_files.prepare_output_dir(run.output_dir)
    decks, game_keys = hanabi_replay.deal(config, 1, run.seed)
    print(f"You are P{run.seat} of {config.players}; seats: {', '.join(names)}.")
    try:
        record = hanabi_replay.play_game(
            seats, decks[0], game_keys[0], run.greedy,
            choose=person(config, run.seat, names), on_step=announce(run.seat), names=names)
    except EndOfInput:
        print("\nend of input: game abandoned.")
        return
    path = write_page(output_dir, [record])
    print(f"final score {record['score']}/{record['max_score']}; replay in {path}")


if __name__ == "__main__":
    common.run_main(main)
