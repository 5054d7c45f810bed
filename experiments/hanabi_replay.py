"""A replay page of a Hanabi game played by trained agents, with every card's public belief.

    python -m experiments.hanabi_replay --agents=full --seed=0 --output_dir=runs/replay

`--agents` names the agent of each seat (a pretrained name, `bad.hanabi.agents.PRETRAINED`, or an
agent file), one for every seat or one per seat; the game is theirs (any preset, 2-5 players). The
game is `bad.hanabi.replay.play_games`' first of `--seed`; `replay.html`
(`experiments.replay_page`) steps through it, and with `--games=N` `replays.json` holds the records
of all N games.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from absl import flags

from bad.hanabi import replay as hanabi_replay
from experiments import common, replay_page, run_files

flags.DEFINE_list("agents", ["full"], "Per seat (or one for all): a pretrained agent name "
                  "(very_small, small, full) or an agent file.")
flags.DEFINE_integer("seed", 0, "Seed of the deals and of the agents' move keys.")
flags.DEFINE_integer("games", 1, "Games to play; the first is the page's, all go to "
                     "replays.json when more than one.")
flags.DEFINE_bool("greedy", False, "Agents play their most likely move instead of sampling.")
flags.DEFINE_string("output_dir", "runs/hanabi_replay", "Where replay.html (and replays.json) go.")
FLAGS = flags.FLAGS


def main(argv: Sequence[str]) -> None:
    del argv  # run_main refuses positional arguments
    common.check_seed(FLAGS.seed)
    common.check_positive(games=FLAGS.games)
    seats, names = replay_page.load_seats(FLAGS.agents)
    output_dir = run_files.prepare_output_dir(FLAGS.output_dir)
    records = hanabi_replay.play_games(seats, FLAGS.games, FLAGS.seed, FLAGS.greedy, names=names)
    path = replay_page.write_page(output_dir, records)
    if FLAGS.games > 1:
        run_files.write_json(os.path.join(output_dir, "replays.json"),
                          {"seed": FLAGS.seed, "agents": list(FLAGS.agents), "records": records})
    scores = [record["score"] for record in records]
    print(f"scores {scores}; replay of game 0 (score {scores[0]}) in {path}")


if __name__ == "__main__":
    common.run_main(main)
