"""Audio: note segmentation on the shared recordings, features, caching, bad files, CLI."""

import collections
import csv

import numpy as np
import pytest

pytest.importorskip("librosa", reason="audio tests need neuralab[audio] (librosa, soundfile)")
sf = pytest.importorskip("soundfile")

from neuralab.audio import (  # noqa: E402
    AudioFileError,
    FeatureParams,
    GateParams,
    build_feature_dataset,
    grouped_splits,
    load_audio,
    note_features,
    run_id,
    score_segmentation,
    segment_notes,
)

from .conftest import shared_data  # noqa: E402

SR = 22050


def tone(freq, seconds=0.6, kind="sine", amplitude=0.3, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    wave = np.sin(2 * np.pi * freq * t)
    if kind == "square":
        wave = np.sign(wave)
    envelope = np.minimum(1, np.minimum(t / 0.02, (seconds - t) / 0.05))
    return (amplitude * wave * envelope).astype(np.float32)


def run_of_notes(freqs, kind="sine", gap=0.3, amplitude=0.3, sr=SR):
    silence = np.zeros(int(gap * sr), np.float32)
    parts = [silence]
    for f in freqs:
        parts += [tone(f, kind=kind, amplitude=amplitude, sr=sr), silence]
    return np.concatenate(parts)


def make_tree(root, dynamics=("pp", "mf", "ff")):
    """Two 'instruments' (sine and square timbres), runs of 3 notes at three dynamics."""
    for kind in ("sine", "square"):
        (root / kind).mkdir(parents=True, exist_ok=True)
        for run, base in (("C4E4", 262), ("G4B4", 392)):
            for dyn, amp in zip(dynamics, (0.05, 0.2, 0.5)):
                sf.write(root / kind / f"{kind}.{dyn}.{run}.wav",
                         run_of_notes([base, base * 1.12, base * 1.26], kind, amplitude=amp), SR)
    return root


# --- segmentation on the real recordings ---------------------------------------------------------
def test_gate_finds_every_scheduled_note_of_the_shared_recordings():
    folder = shared_data("instruments_audio")
    onsets = collections.defaultdict(list)
    with open(folder / "notes.csv") as f:
        for row in csv.DictReader(f):
            onsets[row["file"]].append(float(row["onset_s"]))
    total, exact = None, 0
    for name, scheduled in onsets.items():
        audio = load_audio(folder / name)
        segments = segment_notes(audio.samples, audio.sr)
        score = score_segmentation(segments[:, 0], scheduled, tolerance=0.05)
        exact += score.matched == score.scheduled == score.detected
        total = score if total is None else total + score
    assert total.scheduled == 1089
    assert total.recall == 1.0 and total.precision >= 0.995
    assert abs(total.median_error_ms) < 20
    assert exact >= 147  # the README's gate without merging reached 147/150


def test_onset_detection_option_on_piano():
    folder = shared_data("instruments_audio")
    audio = load_audio(folder / "piano" / "piano.mf.C2C3.flac")
    with open(folder / "notes.csv") as f:
        scheduled = [float(r["onset_s"]) for r in csv.DictReader(f)
                     if r["file"] == "piano/piano.mf.C2C3.flac"]
    segments = segment_notes(audio.samples, audio.sr, method="onset")
    score = score_segmentation(segments[:, 0], scheduled)
    assert score.matched == len(scheduled)  # librosa's detector is exact on piano
    with pytest.raises(ValueError, match="'gate', 'onset'"):
        segment_notes(audio.samples, audio.sr, method="peaks")


def test_gate_on_generated_audio_is_exact():
    samples = run_of_notes([440, 550, 660, 880], gap=0.25)
    segments = segment_notes(samples, SR, params=GateParams())
    assert len(segments) == 4
    expected = 0.25 + np.arange(4) * 0.85
    np.testing.assert_allclose(segments[:, 0], expected, atol=0.03)


# --- features -------------------------------------------------------------------------------------------
def test_features_have_the_documented_shape_and_are_deterministic():
    params = FeatureParams()
    assert params.n_features == 120 and len(params.names()) == 120
    note = tone(440, seconds=0.8)
    a, b = note_features(note, params), note_features(note, params)
    assert a.shape == (120,) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    other = note_features(tone(440, seconds=0.8, kind="square"), params)
    assert np.abs(other - a).max() > 1.0  # a different timbre moves the features
    custom = FeatureParams(n_mfcc=20, deltas=0, stats=("mean", "std"))
    assert note_features(note, custom).shape == (40,)


def test_notes_shorter_than_a_window_are_refused():
    with pytest.raises(AudioFileError, match="shorter than one analysis window"):
        note_features(tone(440, seconds=0.05))
    with pytest.raises(ValueError, match="deltas"):
        FeatureParams(deltas=3)


def test_run_ids_group_the_dynamics_of_a_run():
    assert run_id("flute/flute.pp.C4G4.flac") == run_id("flute.ff.C4G4.flac") == "flute.C4G4"
    assert run_id("SopSax.Vib.mf.C6Eb6.aiff") == "SopSax.Vib.C6Eb6"


# --- the dataset builder: cache, parallelism, bad files ---------------------------------------------------
def test_builder_features_splits_and_cache(tmp_path):
    root = make_tree(tmp_path / "audio")
    cache = tmp_path / "cache"
    first = build_feature_dataset(root, cache_dir=cache, workers=2)
    assert first.X.shape == (2 * 2 * 3 * 3, 120)  # kinds x runs x dynamics x notes
    assert first.classes == ["sine", "square"] and np.bincount(first.y).tolist() == [18, 18]
    assert set(first.runs) == {"sine/sine.C4E4", "sine/sine.G4B4", "square/square.C4E4",
                               "square/square.G4B4"}
    assert first.params["computed_files"] == 12 and not first.problems
    again = build_feature_dataset(root, cache_dir=cache, workers=2)
    assert again.params["computed_files"] == 0
    np.testing.assert_array_equal(again.X, first.X)
    # a changed file is recomputed, alone
    sf.write(root / "sine" / "sine.mf.C4E4.wav", run_of_notes([300, 330, 360], amplitude=0.2), SR)
    changed = build_feature_dataset(root, cache_dir=cache, workers=1)
    assert changed.params["computed_files"] == 1
    # changed parameters recompute everything
    other = build_feature_dataset(root, FeatureParams(n_mfcc=12), cache_dir=cache, workers=1)
    assert other.params["computed_files"] == 12 and other.X.shape[1] == 12 * 3 * 4
    # no run on both sides of a grouped split
    for train, test in grouped_splits(first, n_splits=2, seed=0):
        assert not set(first.runs[train]) & set(first.runs[test])
    path = tmp_path / "features.npz"
    first.save(path)
    loaded = type(first).load(path)
    np.testing.assert_array_equal(loaded.X, first.X)
    assert loaded.classes == first.classes and list(loaded.runs) == list(first.runs)


def test_bad_files_are_reported_and_skipped(tmp_path):
    root = make_tree(tmp_path / "audio")
    (root / "sine" / "notes.wav").write_text("this is not audio")
    sf.write(root / "sine" / "silent.wav", np.zeros(SR, np.float32), SR)
    sf.write(root / "square" / "tiny.wav", tone(440, seconds=0.01), SR)
    loud = np.clip(run_of_notes([300, 400], amplitude=3.0), -1, 1)
    sf.write(root / "sine" / "sine.ff.clipped.wav", loud, SR)
    sf.write(root / "square" / "square.mf.hires.wav",
             run_of_notes([500, 600], kind="square", sr=44100), 44100)
    features = build_feature_dataset(root, cache_dir=None, workers=2)
    problems = "\n".join(features.problems)
    assert "notes.wav: not a readable audio file" in problems
    assert "silent.wav: no notes found: the file is silent" in problems
    assert "tiny.wav: no notes found: every sound is shorter than the gate's min_duration" in problems
    assert "clipped.wav: clipped" in problems
    assert "hires.wav: resampled from 44100 Hz to 22050 Hz" in problems
    # the good files, the clipped one and the resampled one are all there
    assert len(features) == 36 + 2 + 2
    assert sum(p.startswith("skipped") for p in features.problems) == 3
    assert "skipped sine/notes.wav: not a readable audio file" in problems  # paths relative to the root


def test_notes_shorter_than_a_window_are_skipped_by_the_builder(tmp_path):
    """With a permissive gate a 30 ms note is found, but cannot fill one 93 ms FFT window."""
    root = tmp_path / "audio"
    (root / "a").mkdir(parents=True)
    sf.write(root / "a" / "good.wav", run_of_notes([440, 550]), SR)
    sf.write(root / "a" / "short.wav", np.concatenate([np.zeros(3000, np.float32), tone(440, 0.03),
                                                       np.zeros(3000, np.float32)]), SR)
    features = build_feature_dataset(root, gate=GateParams(min_duration=0.03), cache_dir=None,
                                     workers=1)
    problems = "\n".join(features.problems)
    assert "short.wav: no usable note (note at 0.1" in problems
    assert "shorter than one analysis window (n_fft = 2048 samples, 93 ms)" in problems
    assert len(features) == 2 and set(features.files) == {"a/good.wav"}


def test_load_audio_errors(tmp_path):
    with pytest.raises(AudioFileError, match="no such file"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioFileError, match="not a readable audio file"):
        load_audio(tmp_path / "empty.wav")


def test_audio_commands(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from neuralab.cli import main
    root = make_tree(tmp_path / "audio")
    out = tmp_path / "f.npz"
    assert main(["audio", "features", str(root), "-o", str(out), "--workers", "1", "--no-cache",
                 "--quiet"]) == 0
    assert "36 notes x 120 features from 12 files" in capsys.readouterr().out
    png = tmp_path / "show.png"
    assert main(["audio", "show", str(root / "sine" / "sine.mf.C4E4.wav"), "-o", str(png)]) == 0
    assert png.stat().st_size > 10_000 and "3 notes" in capsys.readouterr().out
    assert main(["audio", "features", str(tmp_path / "nothing"), "-o", str(out)]) == 2


def test_anti_phase_stereo_is_reported_as_cancelling_not_silent(tmp_path):
    """left = -right mixes to exact zeros: the file is not silent, its channels cancel."""
    notes = run_of_notes([440, 550])
    sf.write(tmp_path / "anti.wav", np.stack([notes, -notes], axis=1), SR)
    with pytest.raises(AudioFileError, match=r"anti.wav: the 2 channels cancel when mixed to mono "
                                             r"\(peak 0.3 per channel, [0-9.e-]+ mixed\): the "
                                             r"channels are in anti-phase"):
        load_audio(tmp_path / "anti.wav")
    assert len(load_audio(tmp_path / "anti.wav", mono=False).samples) == len(notes)
    sf.write(tmp_path / "stereo.wav", np.stack([notes, 0.5 * notes], axis=1), SR)
    np.testing.assert_allclose(load_audio(tmp_path / "stereo.wav").samples, 0.75 * notes, atol=1e-4)
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    sf.write(root / "a" / "good.wav", notes, SR)
    sf.write(root / "a" / "anti.wav", np.stack([notes, -notes], axis=1), SR)
    problems = "\n".join(build_feature_dataset(root, cache_dir=None, workers=1).problems)
    assert "anti.wav: the 2 channels cancel when mixed to mono" in problems
    assert "silent" not in problems
