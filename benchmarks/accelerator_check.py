"""The first thing to run on a GPU or TPU machine: every throughput benchmark in under 5 minutes.

    python -m benchmarks.accelerator_check [--budget_seconds=290] [--tiny]

Runs, one after the other, each in its own interpreter on whatever accelerator JAX sees (this
process never starts JAX, so a GPU's memory is the benchmarks'):

* `benchmarks.jax_hanabi_throughput`: random self-play on the pure-JAX Hanabi, 4,096 and
  65,536 games, with and without observations;
* `benchmarks.bad_hanabi_throughput`: IPPO and BAD training on 2-player Full, 1,024 games;
* `benchmarks.gn_throughput`: the GN training step, large workload and demo regime.

Each benchmark prints its own report (fewer and shorter rounds than its defaults) and runs its
peer (JaxMARL, PyG) only where the peer's virtualenv is there; then one table sums them up:
the median rate of every contender. A benchmark still running when `--budget_seconds` is
spent is stopped, and it and the ones after it are listed as not measured. `--tiny` runs
minute sizes, ours only: a smoke test of the check itself, e.g. on the CPU.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from absl import flags

from benchmarks import harness

_BUDGET = flags.DEFINE_float("budget_seconds", 290.0,
                             "Wall-clock seconds all benchmarks together may take.",
                             lower_bound=1.0)
_TINY = flags.DEFINE_bool("tiny", False, "Minute sizes and no peers: a smoke test of the check.")

ROUNDS = ["--rounds=3", "--min_round_seconds=1"]
TINY_ROUNDS = ["--rounds=1", "--min_round_seconds=0"]
NO_PEER = "/nonexistent/the-tiny-check-measures-ours-only"
NO_PEERS = {"benchmarks.jax_hanabi_throughput": [f"--jaxmarl_python={NO_PEER}"],
            "benchmarks.gn_throughput": [f"--torch_python={NO_PEER}"]}
SUMMARY_HEADER = ["benchmark", "workload", "contender", "median", "unit"]


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """One benchmark binary and its arguments at full and at tiny size."""

    module: str
    full: tuple[str, ...]
    tiny: tuple[str, ...]


BENCHMARKS = (
    Benchmark("benchmarks.jax_hanabi_throughput", ("--batch_sizes=4096,65536", "--steps=100"),
              ("--batch_sizes=8", "--steps=2")),
    Benchmark("benchmarks.bad_hanabi_throughput",
              ("--preset=full", "--num_envs=1024", "--updates=2", "--methods=ippo,bad"),
              ("--preset=very_small", "--num_envs=4", "--rollout_length=2", "--hidden_sizes=8",
               "--updates=1")),
    Benchmark("benchmarks.gn_throughput", (),
              ("--num_graphs=2", "--num_nodes=20", "--num_edges=40", "--features=4",
               "--hidden=4", "--small_graphs=2")),
)


def arguments(benchmark: Benchmark, tiny: bool) -> list[str]:
    """The command-line arguments of `benchmark` at the chosen size."""
    if tiny:
        return [*benchmark.tiny, *TINY_ROUNDS, *NO_PEERS.get(benchmark.module, [])]
    return [*benchmark.full, *ROUNDS]


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one benchmark printed, or why it printed no report."""

    module: str
    stdout: str
    problem: str = ""


def run_benchmark(module: str, args: Sequence[str], seconds: float) -> Outcome:
    """Runs `python -m module args` for at most `seconds`, echoing its output as it comes."""
    if seconds <= 0:
        return Outcome(module, "", "not run: the budget was spent")
    command = [sys.executable, "-m", module, *args]
    print(f"$ python {' '.join(command[1:])}", flush=True)
    lines = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None  # a pipe (PIPE above)
        watchdog = threading.Timer(seconds, process.kill)
        watchdog.start()
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
        process.wait()
        stopped = not watchdog.is_alive()
        watchdog.cancel()
    if stopped:
        return Outcome(module, "".join(lines), f"stopped after {seconds:.0f} s (the budget)")
    problem = f"failed with exit status {process.returncode}" if process.returncode else ""
    return Outcome(module, "".join(lines), problem)


def summary_rows(outcome: Outcome) -> list[list[str]]:
    """[benchmark, workload, contender, median rate, unit] of every contender `outcome` reports,
    or one row saying why it has none."""
    name = outcome.module.removeprefix("benchmarks.")
    rows = [[name, report.title.split(";")[0], contender, rate, f"{report.unit}/s"]
            for report in harness.parse_reports(outcome.stdout)
            for contender, rate in report.medians.items()]
    if outcome.problem or not rows:
        rows.append([name, outcome.problem or "printed no report", "-", "-", "-"])
    return rows


def main() -> None:
    start = time.monotonic()
    outcomes = [run_benchmark(b.module, arguments(b, _TINY.value),
                              _BUDGET.value - (time.monotonic() - start))
                for b in BENCHMARKS]
    rows = [row for outcome in outcomes for row in summary_rows(outcome)]
    widths = [max(len(row[i]) for row in rows + [SUMMARY_HEADER])
              for i in range(len(SUMMARY_HEADER))]
    print(f"\n== accelerator check: {time.monotonic() - start:.0f} s in all")
    for row in [SUMMARY_HEADER, *rows]:
        print("  ".join(cell.rjust(w) if i == 3 else cell.ljust(w)
                        for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    if any(outcome.problem for outcome in outcomes):
        sys.exit(1)


if __name__ == "__main__":
    harness.run(main)
