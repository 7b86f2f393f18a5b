"""Loading audio files as mono float32 at a chosen sample rate, with per-file diagnostics."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

AUDIO_SUFFIXES = (".wav", ".flac", ".aiff", ".aif", ".ogg", ".mp3", ".oga")


class AudioFileError(ValueError):
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
