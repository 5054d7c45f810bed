"""Experiment binaries (`python -m experiments.NAME --flag=...`) and the I/O they share.

Each binary checks its flags before any work starts, writes `results.json`, `metrics.csv` and
plots under `--output_dir` (the long trainings also a checkpoint they resume from), and answers
bad input with one line on stderr and exit status 1 (see `experiments.common`).
"""
