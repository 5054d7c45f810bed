"""Experiment binaries (`python -m experiments.NAME --flag=...`) and the I/O they share.

Each binary checks its flags before any work starts, writes `results.json`, `metrics.csv` and
plots under `--output_dir` (the long trainings also a checkpoint they resume from), and answers
bad input with one line on stderr and exit status 1. The shared modules, by job: `common`
(one-line errors, flag checks, progress), `config_flags` (flags made from a config dataclass),
`run_files` (the output folder's lock and atomic files), `checkpoints` (the checkpoint format),
`training_loop` (the one resumable training loop), `plots`, `distributed` (multi-process runs);
`gn_common` and `gn_labelling` for the graph network demos.
"""
