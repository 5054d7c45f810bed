"""The one training loop of every binary that trains resumably (`bad_hanabi`, the GN demos).

A binary describes one step of its training and how its state fits its checkpoint (a `Trainer`);
`train` does the rest, the same way for every binary, in the order it reads:

1. Resume. The checkpoint is the truth: when `<output_dir>/checkpoint.npz` exists, the state and
   the metrics log are restored from it and `metrics.csv` is rewritten from that log, so a row a
   kill left after the checkpoint, or a damaged one, never survives a resume. A binary whose
   checkpoint format has no room for the log (`Trainer.log_in_checkpoint` false: bad_hanabi)
   keeps it in `metrics_log.npz`, written just before each checkpoint and cut back to it on
   resume; only a run begun by code older than that file resumes from `metrics.csv` itself,
   whose rows are then checked to be one per logged step up to the checkpoint.
2. Train. Each loop step (an iteration, or a chunk of updates) runs `Trainer.step`; after the
   steps in `Trainer.log_steps` a metrics row is logged, `metrics.csv` is rewritten with it and
   a progress line with an ETA is printed at most every few seconds.
3. Stop on divergence. At logged and checkpointed steps the losses must be finite; otherwise the
   run stops with one line, `metrics.csv` holding the rows up to there and the checkpoint the
   last finite state.
4. Checkpoint every `checkpoint_every` steps and at the end: `metrics.csv`, then the metrics log
   (when it is kept beside the checkpoint), then the checkpoint, each atomically. A kill between
   two of them leaves files ahead of the checkpoint, which step 1 cuts back.

Only process 0 of a multi-process run writes; every process computes the same numbers, and all
resume from the same step (`distributed.check_same_everywhere`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from experiments import checkpoints, common, distributed, run_files

LOG_NAME = "metrics_log.npz"  # the metrics log of a checkpoint format without room for it

Row = dict[str, float]


class Trainer(NamedTuple):
    """What `train` needs of a binary; `State` is whatever the binary's step carries."""

    # The host state of a fresh run, also the template a checkpoint is restored into; called
    # after the checkpoint's config is checked, so that a foreign one is refused before any work.
    init: Callable[[], Any]
    step: Callable[[Any, int], Any]  # (state, steps done) -> state after one more step
    to_device: Callable[[Any], Any]  # host state -> the state `step` takes (sharded, replicated)
    to_host: Callable[[Any], Any]  # the inverse, for checkpoints
    row: Callable[[Any, int], Row]  # (state, steps done) -> the metrics row logged then
    losses: Callable[[Any, Row | None], Mapping[str, float]]  # values that must be finite
    checkpoint_tree: Callable[[Any, int, np.ndarray], Any]  # (host state, done, log) -> saved
    # restored tree -> (host state, steps done, its metrics log or None where it has none)
    from_checkpoint: Callable[[Any], tuple[Any, int, np.ndarray | None]]
    num_steps: int  # loop steps of the whole run
    checkpoint_every: int  # loop steps between checkpoints (the last step is always one)
    log_steps: Sequence[int]  # steps done after which a row is logged, increasing
    columns: Sequence[str]  # the metrics columns; the first counts progress
    int_columns: Collection[str]  # columns written as integers
    describe: Callable[[int], str]  # steps done -> "iteration 6", "128 environment steps"
    row_name: str = "logged step"  # what one row stands for, in messages ("64-step chunk")
    step_name: str = "step"  # what one loop step is called, in messages ("iteration")
    progress_columns: Sequence[str] | None = None  # shown in progress lines; None: all but first
    progress_unit: int = 1  # what one loop step adds to the first column
    log_in_checkpoint: bool = True  # whether `checkpoint_tree` holds the log


def require_finite(row: Mapping[str, float], names: Sequence[str], where: str) -> None:
    """Raises `ExperimentError` if a training metric of a logged row is NaN or infinite."""
    for name in names:
        if not math.isfinite(row[name]):
            raise common.ExperimentError(
                f"training diverged: {name} is {row[name]} at {where} "
                f"({run_files.METRICS_NAME} holds the rows up to there; no checkpoint is written "
                "after them); try a lower --learning_rate.")


def empty_log(trainer: Trainer) -> np.ndarray:
    """The metrics log of a fresh run: one row per logged step, NaN until logged."""
    return np.full((len(trainer.log_steps), len(trainer.columns)), np.nan)


def logged_rows(log: np.ndarray, trainer: Trainer) -> list[Row]:
    """The filled rows of `log` as dicts, integer columns as ints."""
    return [{name: int(value) if name in trainer.int_columns else float(value)
             for name, value in zip(trainer.columns, values)}
            for values in log if not np.isnan(values[0])]


def rows_done(trainer: Trainer, done: int) -> int:
    """How many rows are logged after `done` steps."""
    return sum(1 for step in trainer.log_steps if step <= done)


def log_header(trainer: Trainer, config: Mapping[str, Any]) -> dict[str, Any]:
    """What `LOG_NAME` records besides its rows: the columns and the run it belongs to."""
    return {"format_version": checkpoints.FORMAT_VERSION, "columns": list(trainer.columns),
            "run": dict(config)}


def resumed_log(trainer: Trainer, output_dir: str, config: Mapping[str, Any], done: int,
                checkpoint_log: np.ndarray | None) -> np.ndarray:
    """The metrics log at the checkpoint's `done` steps (see the module docstring, step 1)."""
    log, count = empty_log(trainer), rows_done(trainer, done)
    if checkpoint_log is not None:
        return np.asarray(checkpoint_log, np.float64)
    log_path = os.path.join(output_dir, LOG_NAME)
    if os.path.exists(log_path):
        stored = checkpoints.read_checkpoint(log_path)
        checkpoints.check_config(log_path, stored.config, log_header(trainer, config))
        if len(stored.leaves) != 1 or stored.leaves[0].ndim != 2 or \
                stored.leaves[0].shape[1] != len(trainer.columns) or \
                len(stored.leaves[0]) < count:
            raise common.ExperimentError(
                f"{log_path} does not hold the {count} rows of {len(trainer.columns)} metrics up "
                f"to its checkpoint's {trainer.describe(done)}; remove it to resume from "
                f"{run_files.METRICS_NAME}.")
        log[:count] = stored.leaves[0][:count]
    else:  # a run begun before LOG_NAME existed: metrics.csv, checked row by row
        log[:count] = csv_log(trainer, os.path.join(output_dir, run_files.METRICS_NAME), done)
    steps = [values[0] for values in log[:count]]
    if steps != [step * trainer.progress_unit for step in trainer.log_steps[:count]]:
        raise common.ExperimentError(
            f"the metrics log of {output_dir} does not hold one row per {trainer.row_name} up "
            f"to its checkpoint's {trainer.describe(done)}.")
    return log


def csv_log(trainer: Trainer, path: str, done: int) -> np.ndarray:
    """The rows of `metrics.csv` up to `done` steps as log rows; raises `ExperimentError` unless
    it has one row per logged step up to there, in the trainer's columns."""
    if not os.path.exists(path):
        raise common.ExperimentError(f"{path} is missing, but its checkpoint is at "
                                     f"{trainer.describe(done)}.")
    limit = done * trainer.progress_unit
    first = trainer.columns[0]
    rows = [row for row in run_files.read_csv(path) if row.get(first, math.inf) <= limit]
    wanted = [step * trainer.progress_unit for step in trainer.log_steps
              if step <= done]
    if [row[first] for row in rows] != wanted or any(list(row) != list(trainer.columns)
                                                     for row in rows):
        raise common.ExperimentError(
            f"{path} does not hold one row per {trainer.row_name} up to its checkpoint's "
            f"{trainer.describe(done)}.")
    return np.asarray([[row[name] for name in trainer.columns] for row in rows],
                      np.float64).reshape(len(rows), len(trainer.columns))


def train(trainer: Trainer, output_dir: str, config: Mapping[str, Any]) -> tuple[Any, list[Row]]:
    """Runs `trainer` to its end, resuming from `output_dir`'s checkpoint (written with `config`)
    when there is one; returns the final state (as `step` holds it) and the metrics rows."""
    checkpoint_path = os.path.join(output_dir, checkpoints.CHECKPOINT_NAME)
    metrics_path = os.path.join(output_dir, run_files.METRICS_NAME)
    log_path = os.path.join(output_dir, LOG_NAME)
    writer = distributed.is_writer()

    # 1. Resume: state and metrics log from the checkpoint.
    checkpoints.check_resumable(checkpoint_path, config)
    state, done, log = trainer.init(), 0, empty_log(trainer)
    rows: list[Row] = []  # `log`'s filled rows, kept: a long run rewrites metrics.csv often
    if os.path.exists(checkpoint_path):
        template = trainer.checkpoint_tree(state, 0, log)
        tree = checkpoints.load_checkpoint(checkpoint_path, template, config)
        state, done, checkpoint_log = trainer.from_checkpoint(tree)
        log = resumed_log(trainer, output_dir, config, done, checkpoint_log)
        rows = logged_rows(log, trainer)
        if writer:
            run_files.write_csv(metrics_path, rows)
        print(f"resumed from {checkpoint_path} at {trainer.describe(done)}", flush=True)
    row_index = {step: i for i, step in enumerate(trainer.log_steps)}
    distributed.check_same_everywhere(done, f"the {trainer.step_name} to resume from")
    state = trainer.to_device(state)
    progress = common.Progress(trainer.num_steps * trainer.progress_unit,
                               start=done * trainer.progress_unit)

    while done < trainer.num_steps:
        # 2. Train one step; log a row where one is due.
        state = trainer.step(state, done)
        done += 1
        logged = done in row_index
        checkpointed = done % trainer.checkpoint_every == 0 or done == trainer.num_steps
        row = trainer.row(state, done) if logged else None
        if row is not None:
            index = row_index[done]
            log[index] = [row[name] for name in trainer.columns]
            rows.extend(logged_rows(log[index:index + 1], trainer))  # as a resume would read it
            if writer:
                run_files.write_csv(metrics_path, rows)
            shown = trainer.progress_columns or trainer.columns[1:]
            progress.update(done * trainer.progress_unit, {k: row[k] for k in shown},
                            force=done == trainer.num_steps)
        # 3. Stop on divergence, before a checkpoint could keep a non-finite state.
        if logged or checkpointed:
            losses = trainer.losses(state, row)
            require_finite(losses, list(losses), trainer.describe(done))
        # 4. Checkpoint: metrics.csv (written above), the log, then the checkpoint.
        if checkpointed:
            host_state = trainer.to_host(state)
            if writer:
                if not trainer.log_in_checkpoint:
                    checkpoints.save_checkpoint(log_path, log[:len(rows)],
                                                log_header(trainer, config))
                checkpoints.save_checkpoint(checkpoint_path,
                                            trainer.checkpoint_tree(host_state, done, log),
                                            config)
    return state, rows
