"""Declarative experiments: a TOML file -> sweeps x seeds of trials -> a results folder.

    from neuralab.experiments import load_experiment, run_experiment
    experiment = load_experiment("lr_sweep.toml")
    summary = run_experiment(experiment, "results/lr_sweep", executor="process")
    print(summary.report)                                 # results/lr_sweep/report.html

=================  ================================================================
spec               the TOML format, validation with messages naming the bad key
sweep              grid x variants -> points; points x seeds -> trials (with keys)
data               the [data] loaders and preprocessing
build              model, optimizer, loss, callbacks from their tables
trial              one trial, anywhere; never raises (failures are results)
runners            local, process pool, Ray
store              the results folder (atomic files, resume)
aggregate          per-point mean/std, best point, headline
run                run_experiment: the whole loop
=================  ================================================================
"""

from .aggregate import summarize
from .data import LOADERS, LabData, load_data
from .run import DataUnavailableError, RunSummary, run_experiment
from .runners import EXECUTORS
from .spec import Experiment, ExperimentError, load_experiment, parse_experiment, parse_value
from .store import ResultsExistError, ResultsStore
from .sweep import Point, Trial, expand_points, expand_trials
from .trial import run_trial

__all__ = ["Experiment", "ExperimentError", "load_experiment", "parse_experiment", "parse_value",
           "run_experiment", "RunSummary", "expand_points", "expand_trials", "Point", "Trial",
           "run_trial", "ResultsStore", "ResultsExistError", "summarize", "LOADERS", "LabData",
           "load_data", "EXECUTORS", "DataUnavailableError"]
