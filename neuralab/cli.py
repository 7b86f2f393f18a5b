"""The ``neuralab`` command line.

    neuralab demo                      train the lecture's 2-4-1 network, print its curve
    neuralab data list                 datasets: size, where cached, whether present
    neuralab data get mnist            download into the cache (checksummed)
    neuralab data info PATH|NAME       shapes, dtypes, classes and counts
    neuralab audio features DIR -o features.npz   note features of <DIR>/<class>/<files>
    neuralab audio show FILE           waveform with detected notes + mel spectrogram (PNG)

Exit codes: 0 success, 1 failure while working (e.g. a download failed), 2 bad usage or
bad input (unknown dataset, unreadable file).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


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


def _audio_features(args) -> int:
    import time

    from neuralab.audio import FeatureParams, build_feature_dataset
    params = FeatureParams(sr=args.sr, n_mfcc=args.n_mfcc)
    start = time.perf_counter()
    features = build_feature_dataset(args.folder, params=params, segmentation=args.segmentation,
                                     cache_dir=None if args.no_cache else (args.cache or "default"),
                                     workers=args.workers, progress=not args.quiet)
    features.save(args.output)
    seconds = time.perf_counter() - start
    counts = ", ".join(f"{c}: {n}" for c, n in zip(features.classes, np.bincount(features.y)))
    print(f"{len(features)} notes x {features.X.shape[1]} features from "
          f"{len(set(features.files))} files in {seconds:.1f} s -> {args.output}")
    print(f"classes: {counts}")
    for problem in features.problems:
        print(f"  {problem}")
    return 0


def _audio_show(args) -> int:
    from pathlib import Path

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neuralab.audio import load_audio, plot_mel_spectrogram, plot_waveform, segment_notes
    audio = load_audio(args.file, sr=args.sr)
    segments = segment_notes(audio.samples, audio.sr, args.segmentation)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    plot_waveform(audio.samples, audio.sr, segments, ax=top,
                  title=f"{Path(args.file).name}: {len(segments)} notes")
    plot_mel_spectrogram(audio.samples, audio.sr, ax=bottom)
    fig.tight_layout()
    output = args.output or Path(args.file).with_suffix(".png").name
    fig.savefig(output, dpi=100)
    print(f"{len(segments)} notes ({', '.join(f'{a:.2f}-{b:.2f} s' for a, b in segments[:8])}"
          f"{', ...' if len(segments) > 8 else ''}); figure -> {output}")
    for note in audio.notes:
        print(f"  {note}")
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

    audio = sub.add_parser("audio", help="audio recordings: note features and figures")
    audio_sub = audio.add_subparsers(dest="audio_command", required=True, metavar="ACTION")
    feats = audio_sub.add_parser("features", help="segment every file of <DIR>/<class>/ into notes "
                                                  "and write their features (.npz)")
    feats.add_argument("folder")
    feats.add_argument("-o", "--output", default="features.npz")
    feats.add_argument("--sr", type=int, default=22050, help="sample rate (default 22050)")
    feats.add_argument("--n-mfcc", type=int, default=10, help="MFCCs per frame (default 10)")
    feats.add_argument("--segmentation", choices=("gate", "onset"), default="gate")
    feats.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    feats.add_argument("--cache", default=None, help="feature cache folder")
    feats.add_argument("--no-cache", action="store_true")
    feats.add_argument("--quiet", action="store_true", help="no progress bar")
    feats.set_defaults(func=_audio_features)
    show = audio_sub.add_parser("show", help="waveform with detected notes and mel spectrogram (PNG)")
    show.add_argument("file")
    show.add_argument("-o", "--output", default=None)
    show.add_argument("--sr", type=int, default=22050)
    show.add_argument("--segmentation", choices=("gate", "onset"), default="gate")
    show.set_defaults(func=_audio_show)
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
