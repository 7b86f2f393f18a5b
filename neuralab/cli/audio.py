"""``neuralab audio features|show``."""

from __future__ import annotations

import numpy as np


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


def register(sub) -> None:
    audio = sub.add_parser("audio", help="audio recordings: note features and figures")
    audio_sub = audio.add_subparsers(dest="audio_command", required=True, metavar="ACTION")
    feats = audio_sub.add_parser("features", help="segment every file of <DIR>/<class>/ into notes "
                                                  "and write their features (.npz)")
    feats.add_argument("folder", help="a folder of <class>/<audio files> (wav, flac, ogg, ...)")
    feats.add_argument("-o", "--output", default="features.npz",
                       help="where the features go (default features.npz)")
    feats.add_argument("--sr", type=int, default=22050, help="sample rate (default 22050)")
    feats.add_argument("--n-mfcc", type=int, default=10, help="MFCCs per frame (default 10)")
    feats.add_argument("--segmentation", choices=("gate", "onset"), default="gate",
                       help="energy gate (default) or onset detection")
    feats.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    feats.add_argument("--cache", default=None,
                       help="feature cache folder (default: audio-features/ in $NEURALAB_CACHE, "
                            "else in the data folder when writable, else ~/.cache/neuralab)")
    feats.add_argument("--no-cache", action="store_true",
                       help="compute every file again, neither reading nor writing the cache")
    feats.add_argument("--quiet", action="store_true", help="no progress bar")
    feats.set_defaults(func=_audio_features)
    show = audio_sub.add_parser("show", help="waveform with detected notes and mel spectrogram (PNG)")
    show.add_argument("file", help="one audio file")
    show.add_argument("-o", "--output", default=None, help="PNG path (default: FILE's name .png)")
    show.add_argument("--sr", type=int, default=22050, help="sample rate (default 22050)")
    show.add_argument("--segmentation", choices=("gate", "onset"), default="gate",
                      help="energy gate (default) or onset detection")
    show.set_defaults(func=_audio_show)
