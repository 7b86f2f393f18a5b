"""Figures of a recording: the waveform with its note segments, and the mel spectrogram in dB
(the instrument lab's figure)."""

from __future__ import annotations

import numpy as np

from ..plots._base import pyplot
from .features import FeatureParams, mel_spectrogram


def plot_waveform(samples: np.ndarray, sr: int, segments=None, true_onsets=None, ax=None,
                  title: str | None = None):
    """The waveform over time, detected note segments shaded, scheduled onsets as lines."""
    plt = pyplot()
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3))
    t = np.arange(len(samples)) / sr
    ax.plot(t, samples, linewidth=0.5, color="0.2")
    for k, (start, end) in enumerate(np.asarray(segments if segments is not None else [])):
        ax.axvspan(start, end, color="tab:orange", alpha=0.25, label="detected note" if k == 0 else None)
    for k, onset in enumerate(true_onsets if true_onsets is not None else []):
        ax.axvline(onset, color="tab:blue", linestyle="--", linewidth=0.8,
                   label="scheduled onset" if k == 0 else None)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("amplitude")
    ax.set_xlim(0, t[-1] if len(t) else 1)
    if title:
        ax.set_title(title)
    if segments is not None or true_onsets is not None:
        ax.legend(loc="upper right", fontsize="small")
    return ax.figure


def plot_mel_spectrogram(samples: np.ndarray, sr: int, params: FeatureParams | None = None,
                         ax=None, fmax: float = 8000.0, title: str | None = None):
    """Mel power spectrogram in dB (``librosa.display.specshow``, mel frequency axis)."""
    import librosa
    import librosa.display
    plt = pyplot()
    params = params or FeatureParams(sr=sr, fmax=fmax)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    mel = mel_spectrogram(samples, params)
    image = librosa.display.specshow(librosa.power_to_db(mel, ref=np.max), sr=sr,
                                     hop_length=params.hop_length, x_axis="time", y_axis="mel",
                                     fmax=params.fmax or sr / 2, ax=ax)
    ax.figure.colorbar(image, ax=ax, format="%+2.0f dB")
    ax.set_title(title or "Mel spectrogram")
    return ax.figure
