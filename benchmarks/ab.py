"""A/B of one benchmark between a base commit and the work tree, interleaved in one call.

    .venv/bin/python -m benchmarks.ab --base=COMMIT [--rounds=5] [--min_round_seconds=5]
        -- bad_hanabi_throughput --players=3 --methods=bad

Everything after `--` is a benchmark module under `benchmarks/` and its flags. The base commit's
tracked files are extracted (`git archive`) into a temporary directory, removed at exit, errors
included. Two worker processes (`benchmarks.ab_worker`, run by its path in the work tree with
this interpreter) build the contenders the benchmark's default mode times, from the same flags:
one with the base checkout's packages, one with the work tree's, uncommitted changes included.
After each worker's untimed warm-up (compilation), both sides' contenders are timed in
interleaved rounds of alternating order (`harness.interleave`), so that other load on the
machine falls on both alike.

One table per contender of the benchmark (per method): the work tree's row, then the base's,
each with its median rate (wall clock and per CPU-second) and spread over the rounds; the base's
ratio is work over base (above 1: the work tree is faster). The machine and its load are given
as in every benchmark, and the notes give each worker's peak resident memory after its warm-ups.

Supported: `bad_hanabi_throughput`'s default mode (whole updates; not `--parts` or `--cost`).
With `--base=HEAD` and a clean work tree both sides run the same code: an A/A check of the noise.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Sequence

from absl import flags

from benchmarks import ab_worker, harness

_BASE = flags.DEFINE_string("base", None, "Commit (any git revision) to compare the work tree "
                            "against.")
_ROUNDS, _MIN_SECONDS = harness.define_round_flags(default_seconds=5.0)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(REPO, "benchmarks", "ab_worker.py")
USAGE = "benchmarks.ab --base=COMMIT [--rounds=N] -- MODULE [FLAGS...]"
_HELP = ("-?", "--help", "--helpshort", "--helpfull", "--helpxml")
_ROUND_FLAGS = ("rounds", "min_round_seconds")  # ab's own, for both sides
WORK = "work"  # the work tree's label; the base's is `base <short hash>`


def split_command(argv: Sequence[str]) -> tuple[list[str], list[str] | None]:
    """ab's own arguments and the benchmark command after `--`, None when there is no `--`
    (then only help flags are kept, so that the refusal names the `--`, not a benchmark flag)."""
    if "--" in argv:
        at = list(argv).index("--")
        return list(argv[:at]), list(argv[at + 1:])
    return [argv[0], *(arg for arg in argv[1:] if arg in _HELP)], None


def git(*args: str) -> subprocess.CompletedProcess:
    """`git -C REPO args`, its output captured (bytes), never raising on failure."""
    return subprocess.run(["git", "-C", REPO, *args], capture_output=True, check=False)


def check_command(command: list[str] | None) -> tuple[str, list[str]]:
    """The benchmark module's name and flags; `FlagError` unless ab supports the module."""
    if command is None:
        raise harness.FlagError(f"missing `--` before the benchmark: {USAGE}.")
    if not command:
        raise harness.FlagError(f"no benchmark module after `--`: {USAGE}.")
    module, module_flags = command[0], command[1:]
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", module) or not os.path.isfile(
            os.path.join(REPO, "benchmarks", f"{module}.py")):
        raise harness.FlagError(f"unknown benchmark module {module!r}: no benchmarks/{module}.py.")
    if module not in ab_worker.ADAPTERS:
        raise harness.FlagError(f"benchmarks.ab supports {', '.join(ab_worker.ADAPTERS)}, "
                                f"not {module}.")
    for flag in module_flags:
        if flag.lstrip("-").partition("=")[0] in _ROUND_FLAGS:
            raise harness.FlagError(f"{flag}: give the round flags before `--` (ab runs the "
                                    "rounds of both sides).")
    return module, module_flags


def resolve_base(revision: str | None, module: str) -> str:
    """The full hash of the commit `revision` names; `FlagError` when there is none, or when
    it lacks the benchmark."""
    if not revision:
        raise harness.FlagError(f"--base is required: {USAGE}.")
    found = None if revision.startswith("-") else git(
        "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
    if found is None or found.returncode != 0:
        raise harness.FlagError(f"--base: {revision!r} names no commit of {REPO}.")
    commit = found.stdout.decode().strip()
    if git("cat-file", "-e", f"{commit}:benchmarks/{module}.py").returncode != 0:
        raise harness.FlagError(f"--base: commit {commit[:7]} has no benchmarks/{module}.py.")
    return commit


@contextlib.contextmanager
def checkout(commit: str) -> Iterator[str]:
    """A temporary directory holding `commit`'s tracked files, removed on exit (errors too)."""
    with tempfile.TemporaryDirectory(prefix=f"ab-{commit[:7]}-") as root:
        archive = git("archive", "--format=tar", commit)
        if archive.returncode != 0:
            raise RuntimeError(f"git archive {commit}: {archive.stderr.decode().strip()}")
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(root, filter="data")
        yield root


def work_tree_label() -> str:
    """The work tree as the titles name it: its HEAD and whether it has changes."""
    head = git("rev-parse", "HEAD").stdout.decode().strip()
    changed = git("status", "--porcelain").stdout.strip()
    return f"the work tree (HEAD {head[:7]}{', with changes' if changed else ''})"


def start_side(label: str, root: str, module: str, module_flags: list[str]) -> harness.Worker:
    """A worker serving `module`'s contenders from the checkout at `root`, named `label ...`.

    A worker that stops before it is ready (a bad benchmark flag, an unsupported mode) is a
    `FlagError` naming the side."""
    spec = {"root": root, "module": module, "flags": module_flags, "label": label}
    try:
        return harness.Worker([sys.executable, "-P", WORKER, json.dumps(spec)], cwd=root)
    except harness.WorkerError as error:
        raise harness.FlagError(f"{label}: {error}") from error


def pairs(work: harness.Worker, base: harness.Worker, base_label: str
          ) -> list[tuple[harness.Contender, harness.Contender]]:
    """Each work contender with the base's of the same benchmark name, in the work's order."""
    by_name = {c.name.removeprefix(f"{base_label} "): c for c in base.contenders}
    names = [c.name.removeprefix(f"{WORK} ") for c in work.contenders]
    if sorted(names) != sorted(by_name):
        raise ValueError(f"the sides time different contenders: {WORK} {', '.join(names)}; "
                         f"{base_label} {', '.join(by_name)}.")
    return [(c, by_name[name]) for c, name in zip(work.contenders, names)]


def print_reports(title: str, unit: str,
                  matched: Sequence[tuple[harness.Contender, harness.Contender]],
                  results: dict[str, list[harness.Round]], loads: tuple[str, str]) -> None:
    """One `harness.format_report` table per benchmark contender: work's row, then base's."""
    for work, base in matched:
        summaries = [harness.summarize(c.name, results[c.name], c.note) for c in (work, base)]
        name = work.name.removeprefix(f"{WORK} ")
        print(harness.format_report(f"{name}: {title}", unit, summaries, _ROUNDS.value,
                                    _MIN_SECONDS.value, *loads), flush=True)


def main(command: list[str] | None) -> None:
    module, module_flags = check_command(command)
    commit = resolve_base(_BASE.value, module)
    base_label = f"base {commit[:7]}"
    what = f"benchmarks.{module} {' '.join(module_flags)}".rstrip()
    title = f"{what}; {work_tree_label()} against {base_label}"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a kill still removes the checkout
    with checkout(commit) as base_root, contextlib.ExitStack() as workers:
        sides = []
        for label, root in ((base_label, base_root), (WORK, REPO)):
            sides.append(start_side(label, root, module, module_flags))
            workers.callback(sides[-1].close)  # closed before the checkout is removed
        matched = pairs(sides[1], sides[0], base_label)
        load_before = harness.load_average()
        results = harness.interleave([c for pair in matched for c in pair], _ROUNDS.value,
                                     _MIN_SECONDS.value)
        loads = (load_before, harness.load_average())
    print_reports(title, ab_worker.ADAPTERS[module].unit, matched, results, loads)


if __name__ == "__main__":
    sys.argv, _COMMAND = split_command(sys.argv)
    harness.run(functools.partial(main, _COMMAND))
