"""Audio: from instrument recordings to note features (extra ``neuralab[audio]``).

    from neuralab.audio import build_feature_dataset, grouped_split
    features = build_feature_dataset("instruments_audio/")      # one row per note
    train, test = grouped_split(features, test_fraction=0.25, seed=0)

=======================  ======================================================
load_audio               any soundfile/librosa format -> mono float32 at sr
segment_notes            energy gate (default) or onset detection -> segments
score_segmentation       match detected onsets to scheduled ones (tolerance)
note_features            mel -> MFCC (+ deltas) -> 120-feature summary
build_feature_dataset    a folder of <class>/<files> -> FeatureSet, cached
grouped_split(s)         held-out-run splits (all dynamics of a run together)
plot_waveform, plot_mel_spectrogram   the lab's figures
=======================  ======================================================
"""

from .dataset import (
    FeatureSet,
    build_feature_dataset,
    find_audio_files,
    grouped_split,
    grouped_splits,
    run_id,
)
from .features import FeatureParams, mel_spectrogram, note_features
from .io import Audio, AudioFileError, load_audio
from .plots import plot_mel_spectrogram, plot_waveform
from .segment import GateParams, SegmentationScore, score_segmentation, segment_notes

__all__ = ["load_audio", "Audio", "AudioFileError", "segment_notes", "GateParams",
           "score_segmentation", "SegmentationScore", "FeatureParams", "note_features",
           "mel_spectrogram", "build_feature_dataset", "FeatureSet", "find_audio_files",
           "grouped_split", "grouped_splits", "run_id", "plot_waveform", "plot_mel_spectrogram"]
