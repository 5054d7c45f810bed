"""One side of `benchmarks.ab`: a benchmark's contenders, served from one checkout.

    python -P WORK_TREE/benchmarks/ab_worker.py '<JSON spec>'

Started by `benchmarks.ab`, never by hand, twice: for the base commit's checkout and for the work
tree, both times by this file's path in the work tree, since a base commit may predate it. The
spec names the checkout (`root`), the benchmark module under `benchmarks/`, its flags and the
label that prefixes the contenders' names. The checkout is put first on `sys.path` (`-P` keeps
this file's folder off it), so the benchmark, its harness and the packages it times are the
checkout's, which is checked once they are loaded; the rounds are asked for on stdin
(`harness.serve`).

The contenders come from an adapter here, one per supported module, which builds what the
benchmark's default mode times by calling the module's own functions. Both sides go through the
same adapter, so only the checkouts differ. A refusal (a bad flag, an unsupported mode) is one
line on stderr and exit status 1, which `benchmarks.ab` reports.

Only the standard library is imported at module level: `benchmarks.ab` imports this module for
`ADAPTERS` without loading any checkout.
"""

from __future__ import annotations

import importlib
import json
import os
import resource
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any, NamedTuple


def _flag_value(name: str) -> Any:
    """The parsed value of flag `name`, or None where this checkout's benchmark lacks it."""
    from absl import flags
    return flags.FLAGS[name].value if name in flags.FLAGS else None


def bad_hanabi_throughput(module: ModuleType) -> list[Any]:
    """Whole updates of each `--methods` method, as the benchmark's `main` builds them."""
    for mode in ("parts", "cost", "profile"):
        if _flag_value(mode):
            raise ValueError(f"benchmarks.ab times bad_hanabi_throughput's whole updates only, "
                             f"not --{mode}.")
    methods = _flag_value("methods")
    module.harness.check_choices("methods", methods, module.METHODS)
    configs = {method: module.train_config(method) for method in methods}  # checks them all
    return [module.contender(method, config) for method, config in configs.items()]


class Adapter(NamedTuple):
    """How to get a benchmark module's contenders, and what their rates count."""

    unit: str
    contenders: Callable[[ModuleType], list[Any]]


ADAPTERS = {"bad_hanabi_throughput": Adapter("steps", bad_hanabi_throughput)}


class Labelled:
    """A contender named `label name`; its note (read by `serve` after every warm-up) adds the
    worker's peak resident memory so far."""

    def __init__(self, label: str, contender: Any):
        self.name = f"{label} {contender.name}"
        self._contender = contender

    @property
    def note(self) -> str:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        return "; ".join(filter(None, [self._contender.note,
                                       f"worker peak RSS {peak:,.0f} MiB after warm-up"]))

    def warm_up(self) -> None:
        self._contender.warm_up()

    def run_round(self, min_seconds: float) -> Any:
        return self._contender.run_round(min_seconds)


def check_origins(root: str) -> None:
    """Raises unless every loaded module of a package that `root` holds was loaded from `root`
    (the work tree's editable install must not stand in for a base checkout's packages)."""
    for name, module in list(sys.modules.items()):
        top, path = name.partition(".")[0], getattr(module, "__file__", None)
        held = os.path.isdir(os.path.join(root, top)) or os.path.isfile(
            os.path.join(root, f"{top}.py"))
        if held and path and not os.path.abspath(path).startswith(os.path.join(root, "")):
            raise RuntimeError(f"{name} was loaded from {path}, not from the checkout {root}.")


def serve_checkout(spec: dict) -> None:
    """Parses the benchmark's flags, builds its contenders and serves them (see the docstring)."""
    from absl import flags

    sys.path.insert(0, spec["root"])
    from benchmarks import harness

    name = spec["module"]
    module = importlib.import_module(f"benchmarks.{name}")
    extra = flags.FLAGS([f"benchmarks.{name}", *spec["flags"]])[1:]
    if extra:
        raise ValueError(f"unexpected arguments: {' '.join(extra)}.")
    contenders = ADAPTERS[name].contenders(module)
    check_origins(spec["root"])
    harness.serve([Labelled(spec["label"], contender) for contender in contenders])


def main(argv: list[str]) -> None:
    from absl import flags

    if len(argv) != 2:
        raise SystemExit("usage: python -P benchmarks/ab_worker.py '<JSON spec>' (started by "
                         "benchmarks.ab)")
    try:
        serve_checkout(json.loads(argv[1]))
    except (ValueError, flags.Error) as error:  # the benchmark's own refusals included
        print(str(error).replace("\n", " "), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv)
