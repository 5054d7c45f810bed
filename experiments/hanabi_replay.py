"""A replay page of a Hanabi game played by trained agents, with every card's public belief.

    python -m experiments.hanabi_replay --agents=full --seed=0 --output_dir=runs/replay

`--agents` names the agent of each seat (a pretrained name, `bad.agents.PRETRAINED`, or an agent
file), one for every seat or one per seat; the game is theirs (any preset, 2-5 players). The game
is `bad.hanabi_replay.play_games`' first of `--seed`; `replay.html` (`experiments.replay_page`)
steps through it, and with `--games=N` `replays.json` holds the records of all N games.
"""

from __future__ import annotations

import os
from typing import Sequence

from absl import flags

from bad import agents, hanabi_replay
from experiments import common, replay_page

flags.DEFINE_list("agents", ["full"], "Per seat (or one for all): a pretrained agent name "
                  "(very_small, small, full) or an agent file.")
flags.DEFINE_integer("seed", 0, "Seed of the deals and of the agents' move keys.")
flags.DEFINE_integer("games", 1, "Games to play; the first is the page's, all go to "
                     "replays.json when more than one.")
flags.DEFINE_bool("greedy", False, "Agents play their most likely move instead of sampling.")
flags.DEFINE_string("output_dir", "runs/hanabi_replay", "Where replay.html (and replays.json) go.")
FLAGS = flags.FLAGS


def load_seats(names: Sequence[str], person: int | None = None
               ) -> tuple[list[agents.Agent | None], list[str]]:
    """(The `Agent` of every seat, their names) from `names` (pretrained names or files; one for
    all seats or one per seat but the person's), with `hanabi_replay.PERSON` at seat `person`;
    one `Agent` per distinct name, so that its belief is computed once."""
    if not names or not all(names):
        raise common.ExperimentError("--agents must name at least one agent (a pretrained name "
                                     f"of {', '.join(agents.PRETRAINED)} or an agent file).")
    loaded = {name: agents.load_pretrained(name) if name in agents.PRETRAINED
              else agents.load_agent(name) for name in dict.fromkeys(names)}
    games = {agent.config.game for agent in loaded.values()}
    if len(games) > 1:
        raise common.ExperimentError(f"--agents must all play one game; got {len(games)} "
                                     "different parameter sets.")
    players = next(iter(games)).players
    if person is not None and not 0 <= person < players:
        raise common.ExperimentError(f"--seat must be in [0, {players - 1}], got {person}.")
    others = players - (person is not None)
    if len(names) not in (1, others):
        raise common.ExperimentError(f"--agents must name 1 or {others} agents for the "
                                     f"{players}-player game, got {len(names)}.")
    seat_names = [names[0] if len(names) == 1 else names[index] for index in range(others)]
    chosen = [loaded[name] for name in seat_names]
    seat_names = [os.path.basename(name) for name in seat_names]
    if person is not None:
        chosen.insert(person, hanabi_replay.PERSON)
        seat_names.insert(person, "person")
    return chosen, seat_names


def write_page(output_dir: str, records: list[dict]) -> str:
    """Writes `replay.html` of the first record; returns its path."""
    path = os.path.join(output_dir, "replay.html")
    html = replay_page.render(records)
    common.atomic_write(path, lambda handle: handle.write(html))
    return path


def main(argv: Sequence[str]) -> None:
    del argv  # run_main refuses positional arguments
    common.check_seed(FLAGS.seed)
    common.check_positive(games=FLAGS.games)
    seats, names = load_seats(FLAGS.agents)
    output_dir = common.prepare_output_dir(FLAGS.output_dir)
    records = hanabi_replay.play_games(seats, FLAGS.games, FLAGS.seed, FLAGS.greedy, names=names)
    path = write_page(output_dir, records)
    if FLAGS.games > 1:
        common.write_json(os.path.join(output_dir, "replays.json"),
                          {"seed": FLAGS.seed, "agents": list(FLAGS.agents), "records": records})
    scores = [record["score"] for record in records]
    print(f"scores {scores}; replay of game 0 (score {scores[0]}) in {path}")


if __name__ == "__main__":
    common.run_main(main)
