"""The one way benchmarks time contenders and print what they measured.

A contender is something to time: a call run in this process (`Timed`), or one served by a
worker process in a peer's own virtualenv (`Worker`). `compare` warms every contender up
(compilation is never timed), then runs them interleaved round by round, the order alternating
(round 1: A, B; round 2: B, A; ...), so that other load on a shared machine falls on all alike.
A round repeats its contender's call until at least `min_seconds` of wall clock have passed.
The report gives, per contender, the median rate and its spread (min-max and interquartile range)
over the rounds, by the wall clock and per second of process CPU time, the ratio of the first
contender's median to each one's, and the machine with its load average before and after.
`benchmarks.hlo` reads what a compiled computation holds and does (buffers, FLOPs, products).

Only the standard library is imported at module level: the peers' workers import this module
inside their own virtualenvs, which may lack absl; the flag helpers import absl when called.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

# Lines of the worker protocol start with this, so that anything else a peer library prints
# on stdout is skipped.
_PROTOCOL_PREFIX = "@@harness "


class FlagError(ValueError):
    """A bad flag value; `run` reports it as one line on stderr."""


class WorkerError(RuntimeError):
    """A worker process that did not start or stopped answering."""


@dataclasses.dataclass(frozen=True)
class Round:
    """Work done in one round (in the benchmark's unit: steps, graphs) and the time it took."""

    units: float
    wall_seconds: float
    cpu_seconds: float


class Contender(Protocol):
    """Something `compare` can time; `note` is printed beside its figures (memory, versions).

    Both are read only, so an attribute or a property will do.
    """

    @property
    def name(self) -> str: ...

    @property
    def note(self) -> str: ...

    def warm_up(self) -> None:
        """Runs the call once, untimed (compiles it)."""

    def run_round(self, min_seconds: float) -> Round:
        """Repeats the call until `min_seconds` of wall clock have passed."""


def timed_round(call: Callable[[], float], min_seconds: float) -> Round:
    """Calls `call` (which blocks until its work is done and returns its units) at least once,
    until `min_seconds` of wall clock have passed; the units done and both clocks."""
    units, wall, cpu = 0.0, time.perf_counter(), time.process_time()
    while True:
        units += call()
        elapsed = time.perf_counter() - wall
        if elapsed >= min_seconds:
            return Round(units, elapsed, time.process_time() - cpu)


@dataclasses.dataclass
class Timed:
    """A contender run in this process: `call()` does a fixed amount of work and returns it."""

    name: str
    call: Callable[[], float]
    note: str = ""

    def warm_up(self) -> None:
        self.call()

    def run_round(self, min_seconds: float) -> Round:
        return timed_round(self.call, min_seconds)


@dataclasses.dataclass(frozen=True)
class Summary:
    """A contender's rounds: rates (units per wall second) and CPU rates (per CPU second)."""

    name: str
    rates: tuple[float, ...]
    cpu_rates: tuple[float, ...]
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.rates)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_rates)

    @property
    def quartiles(self) -> tuple[float, float]:
        """First and third quartile of the rates (both the one rate when there is one round)."""
        if len(self.rates) < 2:
            return self.rates[0], self.rates[0]
        first, _, third = statistics.quantiles(self.rates, n=4, method="inclusive")
        return first, third


def summarize(name: str, rounds: Sequence[Round], note: str = "") -> Summary:
    """The rates of `rounds` (a round with no CPU time counts as infinitely fast per CPU s)."""
    return Summary(name, tuple(r.units / r.wall_seconds for r in rounds),
                   tuple(r.units / r.cpu_seconds if r.cpu_seconds > 0 else float("inf")
                         for r in rounds), note)


def round_orders(names: Sequence[str], rounds: int) -> list[list[str]]:
    """The order of each round: `names` forward in rounds 1, 3, ..., backward in 2, 4, ..."""
    return [list(names) if r % 2 == 0 else list(reversed(names)) for r in range(rounds)]


def interleave(contenders: Sequence[Contender], rounds: int,
               min_seconds: float) -> dict[str, list[Round]]:
    """Warms every contender up, then runs `rounds` rounds of each in alternating order."""
    by_name = {c.name: c for c in contenders}
    if len(by_name) != len(contenders):
        raise ValueError("contender names must be distinct.")
    for contender in contenders:
        contender.warm_up()
    results: dict[str, list[Round]] = {name: [] for name in by_name}
    for index, order in enumerate(round_orders(list(by_name), rounds)):
        for name in order:
            results[name].append(by_name[name].run_round(min_seconds))
        print(f"round {index + 1}/{rounds} done", file=sys.stderr, flush=True)
    return results


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, or the platform's word for it."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or "unknown CPU"


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as printed."""
    return " / ".join(f"{load:.2f}" for load in os.getloadavg())


def machine_line(load_before: str, load_after: str) -> str:
    """The machine the figures were taken on, with its load around the measurement."""
    return (f"machine: {cpu_model()}, {os.cpu_count()} cores; load average (1 / 5 / 15 min) "
            f"{load_before} before, {load_after} after")


def format_rate(rate: float) -> str:
    """A rate with thousands separators, or three significant digits below 100."""
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:.3g}"


def format_report(title: str, unit: str, summaries: Sequence[Summary], rounds: int,
                  min_seconds: float, load_before: str, load_after: str) -> str:
    """The one printed format of every benchmark: title, machine, protocol and the table.

    `unit` names what the rates count ("steps", "graphs")."""
    reference = summaries[0]
    header = ["contender", f"median {unit}/s", "min-max", "IQR", f"median {unit} per CPU-s",
              "ratio", "notes"]
    rows = [header]
    for summary in summaries:
        first, third = summary.quartiles
        rows.append([summary.name, format_rate(summary.median),
                     f"{format_rate(min(summary.rates))}-{format_rate(max(summary.rates))}",
                     f"{format_rate(first)}-{format_rate(third)}",
                     format_rate(summary.cpu_median),
                     f"{reference.median / summary.median:.2f}x", summary.note])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"== {title}", machine_line(load_before, load_after),
             f"protocol: {rounds} rounds of at least {min_seconds:g} s each after an untimed "
             "warm-up call, contenders interleaved in alternating order",
             f"ratio: the median rate (wall clock) of {reference.name} over each one's"]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:-1], widths[1:-1])]
        lines.append("  ".join(cells + [row[-1]]).rstrip())
    return "\n".join(lines)


class Report(NamedTuple):
    """What `parse_reports` reads back of one printed `format_report`."""

    title: str
    unit: str  # what the rates count
    medians: dict[str, str]  # contender -> median rate as printed


def parse_reports(text: str) -> list[Report]:
    """Every `format_report` block in a benchmark's output, in order."""
    lines = text.splitlines()
    reports = []
    for start, line in enumerate(lines):
        if not line.startswith("== ") or len(lines) < start + 5:
            continue
        header = re.split(r"\s{2,}", lines[start + 4].strip())
        unit = header[1].removeprefix("median ").removesuffix("/s") if len(header) > 1 else ""
        medians = {}
        for row in lines[start + 5:]:
            cells = re.split(r"\s{2,}", row.strip())
            if not row or row.startswith(("== ", "note: ", "check: ")) or len(cells) < 2:
                break
            medians[cells[0]] = cells[1]
        reports.append(Report(line[3:], unit, medians))
    return reports


def compare(title: str, unit: str, contenders: Sequence[Contender], rounds: int,
            min_seconds: float) -> list[Summary]:
    """Times `contenders` interleaved (`interleave`), prints the report and returns it.

    The first contender is the reference of the ratios (ours, by convention)."""
    load_before = load_average()
    results = interleave(contenders, rounds, min_seconds)
    summaries = [summarize(c.name, results[c.name], c.note) for c in contenders]
    print(format_report(title, unit, summaries, rounds, min_seconds, load_before,
                        load_average()), flush=True)
    return summaries


# ------------------------------------------------------------------ workers in peers' venvs


def _send(message: dict) -> None:
    print(_PROTOCOL_PREFIX + json.dumps(message), flush=True)


def serve(contenders: Sequence[Contender], stdin=None) -> None:
    """The worker side: warms `contenders` up, then runs the rounds asked for on `stdin`.

    Sends the names and notes (read after the warm-ups, so a note can report them) once ready,
    then answers each request (`{"name": ..., "min_seconds": ...}`, one JSON per line) with its
    `Round`, until `{"quit": true}` or the end of input."""
    stdin = sys.stdin if stdin is None else stdin
    by_name = {c.name: c for c in contenders}
    for contender in contenders:
        contender.warm_up()
    _send({"ready": [c.name for c in contenders], "notes": {c.name: c.note for c in contenders}})
    for line in stdin:
        request = json.loads(line)
        if request.get("quit"):
            break
        _send(dataclasses.asdict(by_name[request["name"]].run_round(request["min_seconds"])))


@dataclasses.dataclass
class _Remote:
    """A contender served by a `Worker`."""

    worker: Worker
    name: str
    note: str

    def warm_up(self) -> None:
        """The worker warmed its contenders up before it said it was ready."""

    def run_round(self, min_seconds: float) -> Round:
        return self.worker.run_round(self.name, min_seconds)


class Worker:
    """A worker process (`serve`) driven round by round, so its rounds interleave with ours."""

    def __init__(self, command: Sequence[str], cwd: str | None = None):
        # Held open for the worker's life and closed in `close`, so no `with` block.
        self._errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self._process = subprocess.Popen(list(command), cwd=cwd, stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._errors, text=True)
        # Both are pipes (PIPE above), never None.
        assert self._process.stdin is not None and self._process.stdout is not None
        self._stdin, self._stdout = self._process.stdin, self._process.stdout
        ready = self._receive()
        self.contenders = [_Remote(self, name, ready["notes"].get(name, ""))
                           for name in ready["ready"]]

    def _receive(self) -> dict:
        for line in self._stdout:
            if line.startswith(_PROTOCOL_PREFIX):
                return json.loads(line[len(_PROTOCOL_PREFIX):])
        self._process.wait()
        self._errors.seek(0)
        lines = [line.strip() for line in self._errors if line.strip()]
        raise WorkerError(f"the worker stopped (exit status {self._process.returncode}): "
                          f"{lines[-1] if lines else 'no error output'}")

    def _request(self, message: dict) -> dict:
        try:
            self._stdin.write(json.dumps(message) + "\n")
            self._stdin.flush()
        except BrokenPipeError:
            pass  # `_receive` reports why the worker stopped
        return self._receive()

    def run_round(self, name: str, min_seconds: float) -> Round:
        return Round(**self._request({"name": name, "min_seconds": min_seconds}))

    def close(self) -> None:
        """Asks the worker to stop and waits for it."""
        try:
            self._stdin.write(json.dumps({"quit": True}) + "\n")
            self._stdin.close()
        except BrokenPipeError:
            pass  # it has stopped already
        self._process.wait()
        self._errors.close()


def start_worker(peer: str, python: str, module: str, spec: dict[str, Any],
                 install_hint: str) -> Worker | None:
    """Runs `python -m module JSON(spec)` from the repository root as a worker for `peer`.

    Returns None, after printing one `note:` line saying why, when the peer is unavailable:
    no interpreter at `python` (`install_hint` says how to make one) or a worker that fails."""
    python = os.path.abspath(python)  # the worker runs from the root, the path is from here
    if not os.path.exists(python):
        print(f"note: {peer} unavailable: no interpreter at {python} ({install_hint}); "
              "measuring ours only.", flush=True)
        return None
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        return Worker([python, "-m", module, json.dumps(spec)], cwd=root)
    except (WorkerError, OSError) as error:
        print(f"note: {peer} unavailable: {error}; measuring ours only.", flush=True)
        return None


def compare_with_worker(title: str, unit: str, contenders: Sequence[Contender],
                        worker: Worker | None, rounds: int, min_seconds: float) -> list[Summary]:
    """`compare` of `contenders` followed by `worker`'s (none when it is None), then closes
    the worker, whatever happened."""
    if worker is None:
        return compare(title, unit, contenders, rounds, min_seconds)
    try:
        return compare(title, unit, [*contenders, *worker.contenders], rounds, min_seconds)
    finally:
        worker.close()


def worker_spec(argv: Sequence[str]) -> dict:
    """The spec a worker module was started with (`start_worker`'s `spec`)."""
    if len(argv) != 2:
        raise SystemExit("usage: python -m <worker module> '<JSON spec>' (started by a benchmark)")
    return json.loads(argv[1])


# ------------------------------------------------------------------ flags


def define_round_flags(default_seconds: float = 3.0):
    """Defines `--rounds` (default 5) and `--min_round_seconds`; returns their holders."""
    from absl import flags
    rounds = flags.DEFINE_integer("rounds", 5, "Timed rounds per contender, interleaved.",
                                  lower_bound=1)
    seconds = flags.DEFINE_float("min_round_seconds", default_seconds,
                                 "Each round repeats its call until this many wall-clock "
                                 "seconds have passed (at least one call).", lower_bound=0.0)
    return rounds, seconds


def check_choices(name: str, values: Sequence[str], allowed: Sequence[str]) -> None:
    """Raises `FlagError` when `values` is empty or one of them is not in `allowed`."""
    if not values:
        raise FlagError(f"--{name} is empty; allowed: {', '.join(allowed)}.")
    for value in values:
        if value not in allowed:
            raise FlagError(f"--{name}: unknown value {value!r}; allowed: {', '.join(allowed)}.")


def positive_ints(name: str, values: Sequence[str]) -> list[int]:
    """The comma-list flag `name` as positive integers; `FlagError` naming it otherwise."""
    try:
        numbers = [int(value) for value in values]
    except ValueError:
        numbers = []
    if not values or len(numbers) != len(values) or min(numbers) < 1:
        raise FlagError(f"--{name} must be a comma-separated list of positive integers, "
                        f"got {','.join(values)!r}.")
    return numbers


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def _parse_flags(argv: list[str]) -> list[str]:
    """absl's flag parsing, with a refusal as one `error:` line instead of two lines of usage."""
    from absl import flags
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        _fail(str(error).replace("\n", " "))
    return []


def run(main: Callable[[], Any]) -> None:
    """`app.run` for a benchmark's `main()`: a bad flag, a stray argument or a `ValueError`
    raised by `main` (which checks its flags before any work) ends as one line on stderr."""
    from absl import app

    def guarded(argv: Sequence[str]) -> None:
        if len(argv) > 1:
            _fail(f"unexpected arguments: {' '.join(argv[1:])}.")
        try:
            main()
        except ValueError as error:
            _fail(str(error))

    app.run(guarded, flags_parser=_parse_flags)
