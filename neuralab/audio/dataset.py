"""Building a feature set from a folder of recordings: ``<root>/<class>/<files>``.

Each file is loaded, split into notes (see :mod:`neuralab.audio.segment`) and every note
becomes one feature vector (see :mod:`neuralab.audio.features`). Per note we record its
source file and its *run* -- the file name without the dynamic marking, so
``flute.pp.C4G4.flac``, ``flute.mf.C4G4.flac`` and ``flute.ff.C4G4.flac`` share the run
``flute.C4G4`` -- which lets splits keep a run's three dynamics together.

Features are cached per file under ``cache_dir`` (default: ``audio-features`` in
:func:`~neuralab.datasets.download.cache_home`),
keyed by the sha256 of the file's bytes and the hash of all parameters: re-running reuses
them, a changed file or a changed parameter recomputes. Files are processed in parallel in
a process pool. A bad file (unreadable, not audio, silent, too short) is skipped with a
message in ``FeatureSet.problems``; it never stops the build.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..io_utils import atomic_write_bytes
from ..utils import progress_bar
from .features import FeatureParams, note_features
from .io import AUDIO_SUFFIXES, AudioFileError, load_audio
from .segment import GateParams, segment_notes

DYNAMICS = {"ppp", "pp", "p", "mp", "mf", "f", "ff", "fff"}


def run_id(path) -> str:
    """``flute.pp.C4G4.flac`` -> ``flute.C4G4``: the name with its dynamic token removed."""
    tokens = Path(path).name.split(".")[:-1]
    return ".".join(t for t in tokens if t.lower() not in DYNAMICS)


def find_audio_files(root) -> list[tuple[str, Path]]:
    """``(class, path)`` for every audio file below ``root``; the class is the first folder."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"Audio folder not found: {root}")
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES:
            parts = path.relative_to(root).parts
            if len(parts) < 2:
                raise ValueError(f"{path}: audio files must sit in class folders, <root>/<class>/<file>")
            found.append((parts[0], path))
    return found


@dataclass
class FeatureSet:
    """Note features and where each note came from (one row per note)."""

    X: np.ndarray
    y: np.ndarray
    classes: list[str]
    files: np.ndarray
    runs: np.ndarray
    onsets: np.ndarray
    offsets: np.ndarray
    params: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.X)

    def save(self, path) -> None:
        """Write a ``.npz`` (no pickle: strings are unicode arrays), atomically."""
        buffer = io.BytesIO()
        np.savez(buffer, X=self.X, y=self.y, classes=np.array(self.classes), files=self.files,
                 runs=self.runs, onsets=self.onsets, offsets=self.offsets,
                 params=np.array(json.dumps(self.params)), problems=np.array(self.problems, dtype=str))
        atomic_write_bytes(path, buffer.getvalue())

    @classmethod
    def load(cls, path) -> FeatureSet:
        with np.load(path, allow_pickle=False) as npz:
            return cls(npz["X"], npz["y"], [str(c) for c in npz["classes"]], npz["files"],
                       npz["runs"], npz["onsets"], npz["offsets"], json.loads(str(npz["params"])),
                       [str(p) for p in npz["problems"]])


def _file_key(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:24]


def extract_file(path: str, params: FeatureParams, segmentation: str, gate: GateParams) -> dict:
    """Features of every note of one file; ``{"error": message}`` when the file is unusable."""
    try:
        audio = load_audio(path, sr=params.sr)
        segments = segment_notes(audio.samples, audio.sr, segmentation, gate)
        if len(segments) == 0:
            raise AudioFileError(f"{path}: no notes found: {_why_no_notes(audio.samples, audio.sr, gate)}")
        rows, kept, skipped = [], [], []
        for start, end in segments:
            piece = audio.samples[int(start * audio.sr):int(end * audio.sr)]
            try:
                rows.append(note_features(piece, params))
                kept.append((start, end))
            except AudioFileError as error:
                skipped.append(f"note at {start:.2f} s: {error}")
        if not rows:
            raise AudioFileError(f"{path}: no usable note ({'; '.join(skipped)})")
        notes = list(audio.notes) + skipped
        return {"features": np.stack(rows), "segments": np.array(kept), "notes": notes}
    except AudioFileError as error:
        message = str(error)
        return {"error": message if message.startswith(str(path)) else f"{path}: {message}"}
    except Exception as error:  # a damaged file must never stop the whole build
        return {"error": f"{path}: {type(error).__name__}: {error}"}


def _why_no_notes(samples: np.ndarray, sr: int, gate: GateParams) -> str:
    peak = float(np.abs(samples).max())
    if peak == 0:
        return "the file is silent"
    if len(segment_notes(samples, sr, "gate", replace(gate, min_duration=0.0))):
        return f"every sound is shorter than the gate's min_duration ({gate.min_duration:g} s)"
    return f"no note stands {-gate.threshold_db:.0f} dB above the rest (peak {peak:.2g})"


def _cached(cache: Path | None, key: str):
    if cache is None:
        return None
    file = cache / f"{key}.npz"
    if not file.is_file():
        return None
    try:
        with np.load(file, allow_pickle=False) as npz:
            return {"features": npz["features"], "segments": npz["segments"],
                    "notes": [str(n) for n in npz["notes"]]}
    except (ValueError, OSError, KeyError):
        return None  # a damaged cache entry is recomputed


def _store(cache: Path | None, key: str, result: dict) -> None:
    if cache is None or "error" in result:
        return
    buffer = io.BytesIO()
    np.savez(buffer, features=result["features"], segments=result["segments"],
             notes=np.array(result["notes"], dtype=str))
    atomic_write_bytes(cache / f"{key}.npz", buffer.getvalue())


def default_cache_dir() -> Path:
    from ..datasets.download import cache_home
    return cache_home() / "audio-features"


def build_feature_dataset(root, params: FeatureParams = FeatureParams(), segmentation: str = "gate",
                          gate: GateParams = GateParams(), cache_dir="default",
                          workers: int | None = None, progress: bool = False) -> FeatureSet:
    """Features of every note of every audio file below ``root`` (see the module docstring).

    ``cache_dir=None`` disables the cache; ``workers`` defaults to the number of cores
    (``1`` computes in this process).
    """
    files = find_audio_files(root)
    if not files:
        raise ValueError(f"No audio files ({', '.join(AUDIO_SUFFIXES)}) below {root}")
    cache = default_cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir else None)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
    setting = f"{params.key()}-{segmentation}-" + hashlib.sha256(
        json.dumps(asdict(gate), sort_keys=True).encode()).hexdigest()[:8]
    keys = [f"{_file_key(path)}-{setting}" for _, path in files]
    results: dict[int, dict] = {}
    todo = []
    for i, key in enumerate(keys):
        hit = _cached(cache, key)
        if hit is not None:
            results[i] = hit
        else:
            todo.append(i)
    workers = workers or os.cpu_count() or 1
    bar = progress_bar(len(todo), progress, unit="file", desc="features")
    if todo and (workers == 1 or len(todo) == 1):
        for i in todo:
            results[i] = extract_file(str(files[i][1]), params, segmentation, gate)
            bar.update(1)
    elif todo:
        import librosa  # noqa: F401 - imported once here, inherited by the workers
        with ProcessPoolExecutor(max_workers=min(workers, len(todo))) as pool:
            futures = {i: pool.submit(extract_file, str(files[i][1]), params, segmentation, gate)
                       for i in todo}
            for i, future in futures.items():
                results[i] = future.result()
                bar.update(1)
    bar.close()
    for i in todo:
        _store(cache, keys[i], results[i])
    features = _assemble(Path(root), files, results, params, segmentation, gate)
    features.params.update(computed_files=len(todo), cached_files=len(files) - len(todo))
    return features


def _assemble(root, files, results, params, segmentation, gate) -> FeatureSet:
    classes = sorted({c for c, _ in files})
    index = {c: i for i, c in enumerate(classes)}
    X, y, names, runs, onsets, offsets, problems = [], [], [], [], [], [], []
    for i, (cls, path) in enumerate(files):
        result = results[i]
        rel = str(path.relative_to(root))
        if "error" in result:
            problems.append("skipped " + result["error"].replace(str(path), rel, 1))
            continue
        problems += [f"{rel}: {note}" for note in result["notes"]]
        n = len(result["features"])
        X.append(result["features"])
        y += [index[cls]] * n
        names += [rel] * n
        runs += [f"{cls}/{run_id(path)}"] * n
        onsets.append(result["segments"][:, 0])
        offsets.append(result["segments"][:, 1])
    if not X:
        raise ValueError(f"No usable notes below {root}:\n  " + "\n  ".join(problems))
    meta = {"features": asdict(params), "segmentation": segmentation, "gate": asdict(gate),
            "feature_names": params.names()}
    return FeatureSet(np.concatenate(X).astype(np.float32), np.array(y, dtype=np.int64), classes,
                      np.array(names), np.array(runs), np.concatenate(onsets),
                      np.concatenate(offsets), meta, problems)


def grouped_splits(features: FeatureSet, n_splits: int = 4, seed: int = 0):
    """Train/test index pairs with every run (all dynamics of a pitch run) on one side,
    stratified by class: scikit-learn's ``StratifiedGroupKFold`` over ``features.runs``."""
    from sklearn.model_selection import StratifiedGroupKFold
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(folds.split(features.X, features.y, features.runs))


def grouped_split(features: FeatureSet, test_fraction: float = 0.25, seed: int = 0):
    """One held-out-run split ``(train_idx, test_idx)`` with about ``test_fraction`` of the
    notes in the test part."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    return grouped_splits(features, max(2, round(1 / test_fraction)), seed)[0]
