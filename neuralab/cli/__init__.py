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
    neuralab playground [--port N]     the 2-D networks training live in your browser
    neuralab data list                 datasets: size, where cached, whether present
    neuralab data get mnist            download into the cache (checksummed)
    neuralab data info PATH|NAME       shapes, dtypes, classes and counts
    neuralab audio features DIR -o features.npz   note features of <DIR>/<class>/<files>
    neuralab audio show FILE           waveform with detected notes + mel spectrogram (PNG)
"""

from __future__ import annotations

import argparse
import sys

from .._launch import start_done
from . import audio, basic, experiments, playground
from .errors import (
    DEBUG_HINT,
    EXIT_CODES_HELP,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    UsageError,
    classify,
    debug_enabled,
)

__all__ = ["main", "build_parser", "UsageError"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuralab", description="neuralab: a NumPy neural-network lab",
                                     epilog=__doc__ + "\n" + EXIT_CODES_HELP,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    experiments.register(sub)
    basic.register(sub)
    audio.register(sub)
    playground.register(sub)
    return parser


def main(argv=None) -> int:
    """Run one command; the exit code (see ``EXIT_CODES_HELP``).

    Every error ends here: an expected one (bad input, a failed download, ...) prints
    ``neuralab: error: <message>`` and no traceback; an unexpected one prints ``neuralab:
    internal error: <type>: <message>`` and a hint, or is re-raised when ``NEURALAB_DEBUG=1``.
    """
    start_done()  # from here on Ctrl-C is a KeyboardInterrupt, caught below
    args = build_parser().parse_args(argv)  # bad usage: argparse prints it and exits with 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("neuralab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:
        known = classify(error)
        if known is None:
            if debug_enabled():
                raise
            print(f"neuralab: internal error: {type(error).__name__}: {error}\n"
                  f"neuralab: this is a bug; {DEBUG_HINT}", file=sys.stderr)
            return EXIT_FAILED
        code, message = known
        print(f"neuralab: error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
