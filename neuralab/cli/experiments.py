"""``neuralab run``, ``report``, ``lab list|run|show|notebook``, ``summary`` and ``gradcheck``."""

from __future__ import annotations

import json
import sys

from .errors import UsageError


def _overrides(pairs) -> dict:
    from neuralab.experiments import parse_value
    out = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects KEY=VALUE (e.g. fit.epochs=5), got {pair!r}")
        out[key.strip()] = parse_value(value.strip())
    return out


def _load(args, lab: str | None = None):
    from neuralab.experiments import ExperimentError, load_experiment
    overrides = _overrides(args.set)
    try:
        if lab is not None:
            from neuralab.labs import load_lab
            return load_lab(lab, quick=args.quick, overrides=overrides)
        return load_experiment(args.experiment, quick=args.quick, overrides=overrides)
    except ExperimentError as error:
        raise UsageError(str(error)) from None


def _print_outcome(summary, experiment) -> int:
    from neuralab.experiments.aggregate import format_mean_std, summarize
    status = (f"{summary.ran} trial(s) run, {summary.reused} reused, {summary.failed} failed, "
              f"{summary.diverged} diverged, in {summary.seconds:.1f} s")
    print(status)
    if summary.interrupted:
        print(f"interrupted: finished trials are saved in {summary.output}; continue with the "
              "same command and --resume", file=sys.stderr)
        return 130
    head = summarize(summary.output).headline()
    if head and head["n"]:
        seed = f" (course material: {head['seed_value']}" + (
            f", {head['seed_note']})" if head["seed_note"] else ")") if head["seed_value"] else ""
        print(f"{head['metric']} = {format_mean_std(head['mean'], head['std'], head['n'])} at "
              f"{head['point']}{seed}")
    return 1 if summary.failed else 0


def _execute(args, experiment, default_name: str) -> int:
    """Run into ``-o`` (default ``results/<default_name as a safe folder name>``), then
    write the report unless ``--no-report``."""
    from neuralab.experiments import run_experiment
    from neuralab.experiments.store import results_folder
    output = args.output or str(results_folder(default_name))
    print(f"{experiment.name}: results in {output}")
    summary = run_experiment(experiment, output, executor=args.executor, workers=args.workers,
                             address=args.address, resume=args.resume, overwrite=args.overwrite,
                             log=None if args.quiet else print)
    code = _print_outcome(summary, experiment)
    if not summary.interrupted:
        code = max(code, _print_checks(output))
    if not args.no_report and not summary.interrupted:
        code = max(code, _write_report(output, figures=True))
    return code


def _print_checks(folder) -> int:
    """Print the closed-form checks of a study's trials; 1 when any failed."""
    from neuralab.experiments.studies import print_checks
    failed = print_checks(folder)
    if failed:
        print(f"neuralab: error: {failed} closed-form check(s) failed", file=sys.stderr)
    return 1 if failed else 0


def _write_report(folder, figures: bool) -> int:
    """Write the report; each damaged file is named on stderr, and makes the exit code 1."""
    from neuralab.experiments.aggregate import summarize
    from neuralab.report import write_report
    print(f"report: {write_report(folder, figures=figures)}")
    damaged = summarize(folder).damaged
    for message in damaged:
        print(f"neuralab: error: {message}", file=sys.stderr)
    return 1 if damaged else 0


def _run(args) -> int:
    experiment = _load(args)
    return _execute(args, experiment, experiment.name)


def _lab_run(args) -> int:
    experiment = _load(args, lab=args.name)
    return _execute(args, experiment, f"{args.name}-quick" if args.quick else args.name)


def _lab_list(args) -> int:
    from neuralab.labs import lab_info, lab_names
    rows = [lab_info(name) for name in lab_names()]
    width = max(len(r["name"]) for r in rows)
    loader_width = max(len(r["loader"]) for r in rows)
    for r in rows:
        print(f"{r['name'].ljust(width)}  {r['loader'].ljust(loader_width)}  {r['summary']}")
    print("\nrun one: neuralab lab run NAME [--quick]; see its file: neuralab lab show NAME")
    return 0


def _lab_notebook(args) -> int:
    from neuralab.labs.notebook import write_lab_notebook
    try:
        path = write_lab_notebook(args.name, args.output or f"{args.name}.ipynb",
                                  quick=args.quick)
    except ValueError as error:
        raise UsageError(str(error)) from None
    print(f"notebook: {path}")
    return 0


def _lab_show(args) -> int:
    from neuralab.labs import lab_path
    try:
        print(lab_path(args.name).read_text(encoding="utf-8"), end="")
    except ValueError as error:
        raise UsageError(str(error)) from None
    return 0


def _report(args) -> int:
    return _write_report(args.folder, figures=not args.no_figures)


def _distinct_models(experiment):
    """(point, config) for each different model/compile setting of the experiment."""
    from neuralab.experiments.sweep import expand_points, point_config
    seen, out = set(), []
    for point in expand_points(experiment):
        config = point_config(experiment, point)
        if "study" in config:
            raise UsageError(f"{experiment.name} is a {config['study']['type']!r} study: it "
                             "has no model (expected an experiment that trains one); run it "
                             "with neuralab run or neuralab lab run")
        key = json.dumps([config["model"], config["compile"]], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append((point, config))
    return out


def _summary(args) -> int:
    from neuralab import backend
    from neuralab.experiments.build import build_model
    from neuralab.experiments.data import load_data
    experiment = _load(args)
    for point, config in _distinct_models(experiment):
        backend.clear_session()
        data = load_data(config["data"], experiment.seeds[0])
        model = build_model(config, data.input_shape)
        print(f"{experiment.name} - {point.name}:")
        model.summary()
        print()
    return 0


def _gradcheck(args) -> int:
    """Numerical vs analytic gradients of each distinct model on a few real samples."""
    from neuralab import backend
    from neuralab.experiments.build import build_model
    from neuralab.experiments.data import load_data
    from neuralab.gradcheck import check_model
    experiment = _load(args)
    worst = 0.0
    for point, config in _distinct_models(experiment):
        backend.clear_session()
        data = load_data(config["data"], experiment.seeds[0])
        config = {**config, "model": {**config["model"], "dtype": "float64"}}
        backend.set_seed(experiment.seeds[0])
        model = build_model(config, data.input_shape)
        n = min(args.samples, len(data.x_train))
        errors = check_model(model, data.x_train[:n], data.y_train[:n], max_entries=args.entries)
        print(f"{experiment.name} - {point.name}: {n} samples, up to {args.entries} entries "
              "per weight, float64")
        for name, error in errors.items():
            mark = "ok" if error < args.tolerance else "CHECK"
            print(f"  {name:40s} {error:.2e}  {mark}")
            worst = max(worst, error)
    print(f"largest relative error {worst:.2e} (tolerance {args.tolerance:g})")
    if worst >= args.tolerance:
        print("Isolated large errors can come from ReLU or max-pool kinks crossed by the finite "
              "difference; errors everywhere mean a wrong backward pass.", file=sys.stderr)
        return 1
    return 0


def _run_options(parser) -> None:
    parser.add_argument("-o", "--output", help="results folder (default: results/<name>)")
    parser.add_argument("--executor", choices=("local", "process", "ray"), default="process",
                        help="where trials run (default: a local process pool)")
    parser.add_argument("--workers", type=int, default=None,
                        help="parallel trials (default: the number of cores)")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to join (e.g. auto, ray://host:10001); default: "
                             "start a local Ray")
    parser.add_argument("--resume", action="store_true",
                        help="keep finished trials in the results folder, run the rest")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete earlier results in the folder first")
    parser.add_argument("--no-report", action="store_true", help="skip report.html")
    parser.add_argument("--quiet", action="store_true", help="no line per finished trial")
    _load_options(parser)


def _load_options(parser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="apply the experiment's [quick] overrides (a short version)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a field, e.g. --set fit.epochs=5 --set "
                             "data.path=/data/file.h5 (repeatable)")


def register(sub) -> None:
    run = sub.add_parser("run", help="run an experiment file: every sweep point and trial")
    run.add_argument("experiment", help="EXPERIMENT.toml")
    _run_options(run)
    run.set_defaults(func=_run)

    report = sub.add_parser("report", help="write report.html for a results folder")
    report.add_argument("folder", help="RESULTS_DIR")
    report.add_argument("--no-figures", action="store_true")
    report.set_defaults(func=_report)

    lab = sub.add_parser("lab", help="the built-in labs of the course material")
    lab_sub = lab.add_subparsers(dest="lab_command", required=True, metavar="ACTION")
    lab_sub.add_parser("list", help="the labs and their data").set_defaults(func=_lab_list)
    show = lab_sub.add_parser("show", help="print a lab's experiment file")
    show.add_argument("name")
    show.set_defaults(func=_lab_show)
    lab_run = lab_sub.add_parser("run", help="run a lab (add --quick for a short version)")
    lab_run.add_argument("name")
    _run_options(lab_run)
    lab_run.set_defaults(func=_lab_run)
    notebook = lab_sub.add_parser("notebook", help="write a lab as a Jupyter notebook")
    notebook.add_argument("name")
    notebook.add_argument("-o", "--output", help="the .ipynb file (default: NAME.ipynb)")
    notebook.add_argument("--quick", action="store_true",
                          help="the notebook runs the lab's [quick] version by default")
    notebook.set_defaults(func=_lab_notebook)

    summary = sub.add_parser("summary", help="the model summary of each model of an experiment")
    summary.add_argument("experiment", help="EXPERIMENT.toml")
    _load_options(summary)
    summary.set_defaults(func=_summary)

    check = sub.add_parser("gradcheck", help="check each model's gradients numerically on a few "
                                             "samples of its data (float64)")
    check.add_argument("experiment", help="EXPERIMENT.toml")
    check.add_argument("--samples", type=int, default=4, help="data samples (default 4)")
    check.add_argument("--entries", type=int, default=50,
                       help="entries checked per weight, chosen at random (default 50)")
    check.add_argument("--tolerance", type=float, default=1e-5)
    _load_options(check)
    check.set_defaults(func=_gradcheck)
