"""Runs many command lines of one experiment binary in one interpreter (imports cost seconds).

    python tests/experiments/command_lines.py experiments.gn_sort < cases.json > results.json

stdin: a JSON list of argument lists (without the program name). stdout: a JSON list with,
per case, the exit status (0 when `main` returned), stdout, stderr, and the traceback of any
exception that escaped (there should be none). Each case starts from the flags' default values
(`common.run_in_process`), as a fresh `python -m` would; `--help` works as there.
"""

import contextlib
import importlib
import io
import json
import sys
import traceback


def run_case(module, args: list[str]) -> dict:
    from experiments import common

    out, err = io.StringIO(), io.StringIO()
    status, escaped = 0, None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            common.run_in_process(module.main, [module.__name__, *args])
        except SystemExit as exit_:
            status = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:
            status, escaped = 1, traceback.format_exc()
    return {"status": status, "stdout": out.getvalue(), "stderr": err.getvalue(),
            "traceback": escaped}


def main() -> None:
    from absl import app

    module = importlib.import_module(sys.argv[1])
    app.define_help_flags()  # --help, as app.run defines it
    sys.argv[0] = module.__name__  # absl's --help lists the key flags of sys.argv[0]'s module
    cases = json.load(sys.stdin)
    json.dump([run_case(module, args) for args in cases], sys.stdout)


if __name__ == "__main__":
    main()
