"""What every experiment binary shares at its edges: one-line errors, flag checks, progress.

The library packages never print or write files; everything of that kind lives in `experiments`
so that every binary behaves the same way. This module:

* `run_main(main)` wraps `app.run`: absl's own parse errors (unknown flag, bad enum, non-integer),
  stray positional arguments and non-finite float flags end the program before `main` starts,
  and a `UsageError`, `ValueError` or `OSError` raised by `main` is reported the same way:
  `fail(message)`, one line on stderr and exit status 1, never a traceback. When `main` ends,
  the output folders it locked are released (`run_files`).
* `check_positive` for flags outside a config dataclass (the cluster flags of `distributed`;
  every other binary's flags are checked by their dataclass, `config_flags`), `Progress` lines
  with an ETA and `format_table`.

The rest lives by job: `run_files` (the output folder, its lock, atomic JSON and CSV),
`checkpoints` (the checkpoint format), `plots`, `config_flags` (flags made from a config
dataclass) and `training_loop` (the one resumable training loop).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from absl import app, flags

SEED_MAX = 2**31 - 1  # jax keys and numpy seeds of every binary stay distinct up to here


class ExperimentError(ValueError):
    """A user-facing problem with flags, files or inputs; reported as one line."""


def one_line(text: Any) -> str:
    """`text` with every run of whitespace (newlines included) turned into one space."""
    return " ".join(str(text).split())


def fail(message: Any) -> None:
    """Prints `message` as one line on stderr and exits with status 1."""
    print(f"error: {one_line(message)}", file=sys.stderr, flush=True)
    sys.exit(1)


def parse_flags(argv: Sequence[str]) -> list[str]:
    """absl's flag parsing, with every refusal reported by `fail` before any work starts.

    Refused: absl's parse errors, positional arguments after the program name, and float flags
    that are not finite (`--learning_rate=inf`). Returns `argv` less the flags.
    """
    try:
        rest = flags.FLAGS(list(argv))
    except flags.Error as error:
        fail(error)
    if len(rest) > 1:
        fail(f"unexpected positional arguments {' '.join(rest[1:])!r}; flags are written "
             "--name=value.")
    for name in flags.FLAGS:
        value = flags.FLAGS[name].value
        if isinstance(value, float) and not math.isfinite(value):
            fail(f"--{name} must be a finite number, got {value}.")
    return rest


# What every binary's `main` leaves done, however it ends (filled by the modules that need it,
# so that this one imports none of them).
AFTER_MAIN: list[Callable[[], None]] = []


def _guarded(main: Callable[[Sequence[str]], Any], argv: Sequence[str]) -> Any:
    try:
        return main(argv)
    except (ValueError, app.UsageError, OSError) as error:
        fail(error)
    finally:
        # A lock outlives `main` in no case (`run_files` adds its release here).
        for cleanup in AFTER_MAIN:
            cleanup()


def run_main(main: Callable[[Sequence[str]], Any]) -> None:
    """`app.run(main)` with `parse_flags` and one-line errors (see the module docstring)."""
    app.run(lambda argv: _guarded(main, argv), flags_parser=parse_flags)


def run_in_process(main: Callable[[Sequence[str]], Any], argv: Sequence[str]) -> Any:
    """What `run_main` does, from default flag values, without `app.run`'s once-per-process setup.

    For tests that try many command lines of one binary in one interpreter.
    """
    flags.FLAGS.unparse_flags()
    return _guarded(main, parse_flags(argv))


def check_positive(**values: float) -> None:
    """Raises `ExperimentError` naming the first flag that is not strictly positive."""
    for name, value in values.items():
        if not value > 0:
            raise ExperimentError(f"--{name} must be positive, got {value}.")


class Progress:
    """Prints `step/total, steps/s, ETA, metrics` lines at most every `every_seconds`."""

    def __init__(self, total: int, start: int = 0, every_seconds: float = 10.0):
        self.total, self.start, self.every = total, start, every_seconds
        self.t0 = self.last = time.perf_counter()

    def update(self, step: int, metrics: Mapping[str, float], force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last < self.every:
            return
        self.last = now
        rate = (step - self.start) / max(now - self.t0, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else float("inf")
        shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        print(f"step {step}/{self.total}  {rate:,.1f} steps/s  ETA {eta:,.0f}s  {shown}",
              flush=True)


def format_table(rows: Iterable[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain-text table, right-aligned numbers, for printing results."""
    cells = [list(map(str, header))] + [
        [f"{c:.4g}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
