"""Per-note features: mel spectrogram -> MFCCs (+ deltas) -> a fixed-length summary vector.

Default parameters (``FeatureParams()``), all passed to librosa:

===============  ======  =========================================================
sr               22050   sample rate everything is resampled to
n_fft            2048    FFT window (93 ms); notes shorter than this are refused
hop_length       512     frame step (23 ms)
n_mels           128     mel bands, from ``fmin`` to ``fmax``
fmin, fmax       0, 11025 Hz (sr / 2)
n_mfcc           10      cepstral coefficients (MFCC-0, the log energy, included)
deltas           2       first and second time derivatives of the MFCCs
stats            mean, std, min, max over the note's frames
===============  ======  =========================================================

so the default vector has ``n_mfcc * (1 + deltas) * len(stats) = 10 * 3 * 4 = 120``
features, the size of the UIowa feature set, ordered [MFCC mean, std, min, max, then the
same for the deltas and the delta-deltas], 10 each.

Why this recipe: on the shared instrument recordings with held-out pitch runs, the lab
network reached 0.88 with it, against 0.79 for 20 MFCCs with deltas summarized by mean and
std only, and 0.66 for 60 MFCCs (mean and std); the extremes of the deltas describe the
attack and decay of a note, which identify the instrument across pitches, while high-order
MFCCs follow the pitch and overfit (see the audio issue's closing note for the table).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np

from .io import AudioFileError


@dataclass(frozen=True)
class FeatureParams:
    sr: int = 22050
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    n_mfcc: int = 10
    deltas: int = 2
    stats: tuple[str, ...] = ("mean", "std", "min", "max")

    def __post_init__(self):
        if self.deltas not in (0, 1, 2):
            raise ValueError(f"deltas must be 0, 1 or 2, got {self.deltas!r}")
        unknown = set(self.stats) - {"mean", "std", "min", "max"}
        if unknown or not self.stats:
            raise ValueError(f"stats must be chosen from mean, std, min, max; got {self.stats!r}")
        if self.n_mfcc < 1 or self.n_mels < self.n_mfcc:
            raise ValueError(f"need 1 <= n_mfcc <= n_mels, got n_mfcc={self.n_mfcc}, "
                             f"n_mels={self.n_mels}")

    @property
    def n_features(self) -> int:
        return self.n_mfcc * (1 + self.deltas) * len(self.stats)

    def key(self) -> str:
        """A hash of the parameters: cached features are reused only for equal keys."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:16]

    def names(self) -> list[str]:
        blocks = ["mfcc", "delta", "delta2"][: 1 + self.deltas]
        return [f"{block}{i}_{stat}" for block in blocks for stat in self.stats
                for i in range(self.n_mfcc)]


def mel_spectrogram(samples: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """Mel power spectrogram, shape (n_mels, frames)."""
    import librosa
    return librosa.feature.melspectrogram(y=samples, sr=params.sr, n_fft=params.n_fft,
                                          hop_length=params.hop_length, n_mels=params.n_mels,
                                          fmin=params.fmin, fmax=params.fmax)


def note_features(samples: np.ndarray, params: FeatureParams = FeatureParams()) -> np.ndarray:
    """The summary vector (``params.n_features``,) of one note's samples."""
    import librosa
    if len(samples) < params.n_fft:
        raise AudioFileError(f"note of {len(samples)} samples is shorter than one analysis window "
                             f"(n_fft = {params.n_fft} samples, {params.n_fft / params.sr * 1000:.0f} ms)")
    if not np.any(samples):
        raise AudioFileError("note is digital silence: no features")
    mel = mel_spectrogram(samples, params)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=params.n_mfcc)
    blocks = [mfcc]
    frames = mfcc.shape[1]
    if params.deltas:
        width = min(9, frames if frames % 2 else frames - 1)
        if width < 3:
            blocks += [np.zeros_like(mfcc)] * params.deltas
        else:
            blocks += [librosa.feature.delta(mfcc, width=width, order=order, mode="nearest")
                       for order in range(1, params.deltas + 1)]
    reducers = {"mean": np.mean, "std": np.std, "min": np.min, "max": np.max}
    parts = [reducers[stat](block, axis=1) for block in blocks for stat in params.stats]
    return np.concatenate(parts).astype(np.float32)
