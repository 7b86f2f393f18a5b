"""The ``neuralab`` command line.

    neuralab demo                      train the lecture's 2-4-1 network, print its curve
    neuralab data list                 datasets: size, where cached, whether present
    neuralab data get mnist            download into the cache (checksummed)
    neuralab data info PATH|NAME       shapes, dtypes, classes and counts

Exit codes: 0 success, 1 failure while working (e.g. a download failed), 2 bad usage or
bad input (unknown dataset, unreadable file).
"""

from __future__ import annotations

import argparse
import sys


class UsageError(Exception):
    """Bad input from the user: exit code 2 with the message."""


def _demo(args) -> int:
    """Train the lecture's 2-4-1 sigmoid network on its synthetic 2-D data."""
    import neuralab as nl
    from neuralab.datasets import make_lecture_synthetic
    from neuralab.layers import Dense

    nl.set_seed(args.seed)
    x, y = make_lecture_synthetic(400, seed=args.seed)
    model = nl.Sequential([Dense(4, activation="sigmoid", input_shape=(2,), name="hidden"),
                           Dense(1, activation="sigmoid", name="output")])
    model.summary()
    model.compile(optimizer=nl.optimizers.Adam(learning_rate=0.03), loss="binary_crossentropy",
                  metrics=["accuracy"])
    print(f"\nTraining on {len(x)} points for {args.epochs} epochs (batch 100, Adam 0.03)\n")
    history = model.fit(x, y, epochs=args.epochs, batch_size=100, verbose=0)
    every = max(1, args.epochs // 20)
    print("epoch      loss  accuracy")
    for epoch in range(every - 1, args.epochs, every):
        print(f"{epoch + 1:5d}  {history.history['loss'][epoch]:8.4f}  "
              f"{history.history['accuracy'][epoch]:8.4f}")
    return 0


def _data_list(args) -> int:
    from neuralab.datasets import catalog, download
    rows = [("name", "size", "source", "where", "present")]
    for entry in catalog.CATALOG:
        where, present = catalog.status(entry)
        rows.append((entry.name, entry.size, entry.source, where, present))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print(f"\ncache folder: {download.data_home()} (set NEURALAB_DATA to move it)")
    return 0


def _data_get(args) -> int:
    from neuralab.datasets import catalog, download
    names = {e.name: e for e in catalog.CATALOG}
    if args.name not in names:
        raise UsageError(f"unknown dataset {args.name!r}; known: {sorted(names)}")
    entry = names[args.name]
    if entry.source != "download":
        raise UsageError(f"{args.name} is not downloadable ({entry.description}); pass your local "
                         "copy's path to its loader instead")
    folder = download.fetch(args.name, force=args.force, progress=not args.quiet)
    print(f"{args.name}: ready in {folder}")
    return 0


def _data_info(args) -> int:
    from neuralab.datasets import catalog
    print(catalog.describe(args.path))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neuralab", description="neuralab: a NumPy neural-network lab",
                                     epilog=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="train a small network on generated data and print its "
                                       "learning curve")
    demo.add_argument("--epochs", type=int, default=1000)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=_demo)

    data = sub.add_parser("data", help="list, download and inspect datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    data_sub.add_parser("list", help="known datasets: size, cache location, presence").set_defaults(
        func=_data_list)
    get = data_sub.add_parser("get", help="download a public dataset into the cache")
    get.add_argument("name")
    get.add_argument("--force", action="store_true", help="download again even if present")
    get.add_argument("--quiet", action="store_true", help="no progress bar")
    get.set_defaults(func=_data_get)
    info = data_sub.add_parser("info", help="shapes, dtypes, classes and counts of a data path")
    info.add_argument("path", help="a dataset folder or file, or a cached dataset's name")
    info.set_defaults(func=_data_info)
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
