"""Declarative experiments: a TOML file -> sweeps x seeds of trials -> a results folder.

    from neuralab.experiments import load_experiment, run_experiment
    from neuralab.report import write_report
    experiment = load_experiment("lr_sweep.toml")
    summary = run_experiment(experiment, "results/lr_sweep", executor="process")
    write_report(summary.output)                          # results/lr_sweep/report.html

=================  ================================================================
config             one trial's tables, dotted paths into them, their validation
points             grid x variants -> points (each resolved and checked once)
spec               the TOML format: the whole file, validated with messages naming the key
sweep              points x seeds -> trials (with keys)
data               the [data] loaders and preprocessing
build              model, optimizer, loss, callbacks from their tables
trial              one trial, anywhere; never raises (failures are results)
result             TrialResult: what a trial gives back (values; the store names files)
runners            local, process pool, Ray
store              the results folder (one run at a time, atomic files, resume)
aggregate          per-point mean/std, best point, headline
run                run_experiment: the whole loop
studies            [study] experiments that compute and check closed forms instead of
                   training: Check rows, their reading back (study_kinds registers and
                   runs them: descent, backprop)
=================  ================================================================

Imports go one way: config <- points <- spec <- sweep <- run; result <- trial <- runners <- run
-> store. Nothing here imports :mod:`neuralab.report`: the report reads a results folder.
"""

from .aggregate import summarize
from .config import ExperimentError
from .data import LOADERS, LabData, load_data
from .result import TrialResult
from .run import DataUnavailableError, RunSummary, run_experiment
from .runners import EXECUTORS
from .spec import Experiment, load_experiment, parse_experiment, parse_value
from .store import (
    DamagedResultError,
    ResultsExistError,
    ResultsLockedError,
    ResultsStore,
    results_folder,
    slug,
)
from .sweep import Point, Trial, expand_points, expand_trials
from .trial import run_trial

__all__ = ["Experiment", "ExperimentError", "load_experiment", "parse_experiment", "parse_value",
           "run_experiment", "RunSummary", "expand_points", "expand_trials", "Point", "Trial",
           "run_trial", "TrialResult", "ResultsStore", "ResultsExistError", "ResultsLockedError",
           "DamagedResultError", "results_folder", "slug", "summarize", "LOADERS", "LabData",
           "load_data", "EXECUTORS", "DataUnavailableError"]
