"""A replay page of a Hanabi game played by trained agents, with every card's public belief.

    python -m experiments.hanabi_replay --agents=full --seed=0 --output_dir=runs/replay

`--agents` names the agent of each seat (a pretrained name, `bad.hanabi.agents.PRETRAINED`, or an
agent file), one for every seat or one per seat; the game is theirs (any preset, 2-5 players). The
game is `bad.hanabi.replay.play_games`' first of `--seed`; `replay.html`
(`experiments.replay_page`) steps through it, and with `--games=N` `replays.json` holds the records
of all N games.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

from bad.hanabi import replay as hanabi_replay
from experiments import common, config_flags, replay_page, run_files


@dataclasses.dataclass(frozen=True)
class ReplayConfig:
    """The seats' agents, the games and where the page goes.

    Attributes:
      agents: Per seat (or one for all): a pretrained agent name (very_small, small, full,
        full_3p, full_4p, full_5p) or an agent file.
      seed: Seed of the deals and of the agents' move keys.
      games: Games to play; the first is the page's, all go to replays.json when more than one.
      greedy: Agents play their most likely move instead of sampling.
      output_dir: Where replay.html (and replays.json) go.
    """

    agents: tuple[str, ...] = ("full",)
    seed: int = 0
    games: int = 1
    greedy: bool = False
    output_dir: str = "runs/hanabi_replay"

    def __post_init__(self):
        if not 0 <= self.seed <= common.SEED_MAX:
            raise ValueError(f"seed must be in [0, {common.SEED_MAX}], got {self.seed}.")
        if not self.games > 0:
            raise ValueError(f"games must be positive, got {self.games}.")


REPLAY_FLAGS = tuple(field.name for field in dataclasses.fields(ReplayConfig))
config_flags.define(ReplayConfig, REPLAY_FLAGS)


def main(argv: Sequence[str]) -> None:
    del argv  # run_main refuses positional arguments
    run = config_flags.build(ReplayConfig, REPLAY_FLAGS)
    seats, names = replay_page.load_seats(run.agents)
    output_dir = run_files.prepare_output_dir(run.output_dir)
    records = hanabi_replay.play_games(seats, run.games, run.seed, run.greedy, names=names)
    path = replay_page.write_page(output_dir, records)
    if run.games > 1:
        run_files.write_json(os.path.join(output_dir, "replays.json"),
                          {"seed": run.seed, "agents": list(run.agents), "records": records})
    scores = [record["score"] for record in records]
    print(f"scores {scores}; replay of game 0 (score {scores[0]}) in {path}")


if __name__ == "__main__":
    common.run_main(main)
