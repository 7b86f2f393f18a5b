"""The ``neuralab`` command line.

    neuralab lab list                  the built-in labs of the course material
    neuralab lab run synthetic         run one (``--quick``: a short version), then its report
    neuralab lab show mnist-mlp        print a lab's experiment file
    neuralab run EXPERIMENT.toml       run your own experiment (--executor local|process|ray,
                                       --resume, --set fit.epochs=5, ...)
    neuralab report RESULTS_DIR        write RESULTS_DIR/report.html
    neuralab summary EXPERIMENT.toml   the model summary of each model in an experiment
    neuralab gradcheck EXPERIMENT.toml numerical gradient check of each model on its data
    neuralab demo                      train the lecture's 2-4-1 network, print its curve
    neuralab data list                 datasets: size, where cached, whether present
    neuralab data get mnist            download into the cache (checksummed)
    neuralab data info PATH|NAME       shapes, dtypes, classes and counts
    neuralab audio features DIR -o features.npz   note features of <DIR>/<class>/<files>
    neuralab audio show FILE           waveform with detected notes + mel spectrogram (PNG)

Exit codes: 0 success, 1 failure while working (a trial failed, a download failed),
2 bad usage or bad input (unknown name, invalid experiment file, unreadable file),
130 interrupted (Ctrl-C; finished trials are kept, continue with --resume).
"""

from __future__ import annotations

import argparse
import sys

from . import audio, basic, experiments
from .errors import UsageError

__all__ = ["main", "build_parser", "UsageError"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuralab", description="neuralab: a NumPy neural-network lab",
                                     epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    experiments.register(sub)
    basic.register(sub)
    audio.register(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UsageError as error:
        print(f"neuralab: error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError) as error:
        print(f"neuralab: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"neuralab: failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("neuralab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
