"""Loading audio files as mono float32 at a chosen sample rate, with per-file diagnostics."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

AUDIO_SUFFIXES = (".wav", ".flac", ".aiff", ".aif", ".ogg", ".mp3", ".oga")


class AudioFileError(InputError):
    """An audio file cannot be used (unreadable, not audio, silent, too short, ...)."""


def _soundfile():
    try:
        import soundfile
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError("Audio needs soundfile and librosa: pip install 'neuralab[audio]'") from None
    return soundfile


@dataclass
class Audio:
    """Samples (mono float32 in [-1, 1]) at ``sr`` Hz, and notes about how they were read."""

    samples: np.ndarray
    sr: int
    path: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sr


def _check_mix(data: np.ndarray, mixed: np.ndarray, path: Path) -> None:
    """Refuse a mono mix that cancels out (anti-phase stereo, left = -right): it would be
    reported as silent although every channel holds sound."""
    channel_peak = float(np.max(np.abs(data)))
    mixed_peak = float(np.max(np.abs(mixed)))
    if channel_peak > 0 and mixed_peak < 1e-3 * channel_peak:  # > 60 dB of cancellation
        raise AudioFileError(
            f"the {data.shape[1]} channels cancel when mixed to mono (peak {channel_peak:.3g} per "
            f"channel, {mixed_peak:.3g} mixed): the channels are in anti-phase (left = -right)",
            path, "channels that add up; flip one channel's polarity, or read one channel with "
                  "load_audio(..., mono=False)")


def load_audio(path, sr: int = 22050, mono: bool = True, clip_threshold: float = 0.999) -> Audio:
    """Read any format soundfile reads (WAV, FLAC, AIFF, OGG; MP3 with libsndfile >= 1.1),
    falling back to librosa/audioread; mix down to mono and resample to ``sr``.

    ``Audio.notes`` records what happened (resampling from another rate, clipping).

    Raises:
        AudioFileError: the file is missing, unreadable or not audio, or holds no samples.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: no such file")
    soundfile = _soundfile()
    notes = []
    try:
        data, file_sr = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:  # soundfile raises LibsndfileError / RuntimeError variants
        try:
            import librosa
            with warnings.catch_warnings():  # librosa warns before its audioread fallback
                warnings.simplefilter("ignore")
                data, file_sr = librosa.load(str(path), sr=None, mono=False)
            data = np.atleast_2d(data).T.astype(np.float32)
        except Exception:
            raise AudioFileError(f"{path}: not a readable audio file ({error})") from None
    if data.size == 0:
        raise AudioFileError(f"{path}: the file holds no audio samples")
    samples = data.mean(axis=1) if mono else data[:, 0]
    if mono and data.shape[1] > 1:
        _check_mix(data, samples, path)
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    if not np.all(np.isfinite(samples)):
        raise AudioFileError(f"{path}: the audio contains NaN or infinite samples")
    clipped = float(np.mean(np.abs(samples) >= clip_threshold))
    if clipped > 0.001:
        notes.append(f"clipped: {clipped:.1%} of the samples are at full scale; features of "
                     "clipped notes are distorted")
    if file_sr != sr:
        import librosa
        samples = librosa.resample(samples, orig_sr=file_sr, target_sr=sr).astype(np.float32)
        notes.append(f"resampled from {file_sr} Hz to {sr} Hz")
    return Audio(samples, sr, str(path), notes)
