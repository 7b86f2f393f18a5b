"""neuralab.tensorboard: CRC-32C, the protobuf encoding, and the TensorBoard callback's event
files read back by TensorBoard's own reader (``EventAccumulator``)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import neuralab as nl
from neuralab import callbacks
from neuralab import tensorboard as tb
from neuralab.errors import InputError

_TB_REASON = "reading event files back needs TensorBoard (pip install 'neuralab[tensorboard]')"


# -- CRC-32C and framing ---------------------------------------------------------------------
ISCSI_READ_PDU = bytes([
    0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
    0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00])


@pytest.mark.parametrize("data, expected", [
    (bytes(32), 0x8A9136AA),                        # RFC 3720 B.4: 32 bytes of zeros
    (b"\xff" * 32, 0x62A8AB43),                     # 32 bytes of ones
    (bytes(range(32)), 0x46DD794E),                 # 32 incrementing bytes
    (bytes(range(31, -1, -1)), 0x113FDB5C),         # 32 decrementing bytes
    (ISCSI_READ_PDU, 0xD9963A56),                   # an iSCSI read (10) command PDU
    (b"123456789", 0xE3069283),                     # the CRC catalogue's check value
    (b"", 0x00000000),
])
def test_crc32c_matches_the_rfc3720_test_vectors(data, expected):
    assert tb.crc32c(data) == expected


def test_masked_crc_and_record_framing_match_tensorboards_writer(tmp_path):
    pytest.importorskip("tensorboard", reason=_TB_REASON)
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
    from tensorboard.summary.writer.record_writer import RecordWriter

    for data in (b"", b"a", bytes(range(256)), b"event" * 100):
        assert tb.masked_crc32c(data) == masked_crc32c(data)
    payload = tb.event(3, [tb.scalar_value("x", 1.5)], wall_time=1.0)
    with open(tmp_path / "theirs", "wb") as f:
        RecordWriter(f).write(payload)
    assert tb.tfrecord(payload) == (tmp_path / "theirs").read_bytes()


def test_varints_follow_the_protobuf_encoding():
    # the protobuf documentation's examples, and a negative int64 (ten bytes)
    assert tb._varint(1) == b"\x01"
    assert tb._varint(150) == b"\x96\x01"
    assert tb._varint(300) == b"\xac\x02"
    assert tb._varint(-1) == b"\xff" * 9 + b"\x01"


def test_events_parse_with_tensorflows_event_proto():
    pytest.importorskip("tensorboard", reason=_TB_REASON)
    from tensorboard.compat.proto import event_pb2

    values = np.arange(-3.0, 7.0)
    data = tb.event(-2, [tb.scalar_value("loss", 0.25), tb.histogram_value("w", values, bins=5)],
                    wall_time=12.5)
    parsed = event_pb2.Event.FromString(data)
    assert (parsed.step, parsed.wall_time) == (-2, 12.5)
    scalar, histogram = parsed.summary.value
    assert (scalar.tag, scalar.simple_value) == ("loss", 0.25)
    h = histogram.histo
    assert (h.min, h.max, h.num, h.sum, h.sum_squares) == (-3, 6, 10, 15, float(values @ values))
    np.testing.assert_allclose(h.bucket_limit, [-1.2, 0.6, 2.4, 4.2, 6.0])
    assert list(h.bucket) == [2, 2, 2, 2, 2]
    version = event_pb2.Event.FromString(tb.event(0, file_version="brain.Event:2"))
    assert version.file_version == "brain.Event:2"


# -- the callback ----------------------------------------------------------------------------
def _classifier():
    model = nl.Sequential([nl.layers.Dense(5, activation="relu"),
                           nl.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=nl.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _data(rng, n=48):
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype(int) + (x[:, 1] > 1).astype(int)


def _accumulator(path):
    pytest.importorskip("tensorboard", reason=_TB_REASON)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0,
                                                             "tensors": 0})
    return accumulator.Reload()


def test_epoch_scalars_equal_the_history(tmp_path, rng):
    x, y = _data(rng)
    model = _classifier()
    history = model.fit(x, y, epochs=4, batch_size=8, validation_split=0.25, verbose=0,
                        callbacks=[tb.TensorBoard(tmp_path)])
    train, validation = _accumulator(tmp_path / "train"), _accumulator(tmp_path / "validation")
    assert set(train.Tags()["scalars"]) == {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"}
    assert set(validation.Tags()["scalars"]) >= {"epoch_loss", "epoch_accuracy"}
    for run, prefix in ((train, ""), (validation, "val_")):
        for name in ("loss", "accuracy"):
            events = run.Scalars(f"epoch_{name}")
            assert [e.step for e in events] == history.epoch == [0, 1, 2, 3]
            # simple_value is a float32
            np.testing.assert_array_equal([e.value for e in events],
                                          np.float32(history.history[prefix + name]))
    assert [e.value for e in train.Scalars("epoch_learning_rate")] == [np.float32(0.1)] * 4


def test_a_vector_metric_is_left_out_and_the_scalars_are_still_written(tmp_path, rng):
    x, y = _data(rng)
    model = nl.Sequential([nl.layers.Dense(5, activation="relu"),
                           nl.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=nl.optimizers.SGD(0.1), loss="categorical_crossentropy",
                  metrics=["accuracy", nl.metrics.F1Score(average=None)])
    onehot = np.eye(3, dtype="float32")[y]
    board = tb.TensorBoard(tmp_path, update_freq="batch")
    history = model.fit(x, onehot, epochs=2, batch_size=8, validation_split=0.25, verbose=0,
                        callbacks=[board])  # it raised TypeError on the per-class F1 vector
    assert np.shape(history.history["f1_score"][-1]) == (3,)
    model.evaluate(x, onehot, verbose=0, callbacks=[board])
    train, validation = _accumulator(tmp_path / "train"), _accumulator(tmp_path / "validation")
    assert set(train.Tags()["scalars"]) == {"epoch_loss", "epoch_accuracy", "epoch_learning_rate",
                                            "batch_loss", "batch_accuracy"}
    assert set(validation.Tags()["scalars"]) == {
        "epoch_loss", "epoch_accuracy", "evaluation_loss_vs_iterations",
        "evaluation_accuracy_vs_iterations"}
    np.testing.assert_array_equal([e.value for e in train.Scalars("epoch_accuracy")],
                                  np.float32(history.history["accuracy"]))


def test_evaluation_scalars_are_written_at_the_optimizer_step(tmp_path, rng):
    x, y = _data(rng)
    model = _classifier()
    board = tb.TensorBoard(tmp_path)
    model.fit(x, y, epochs=2, batch_size=8, validation_data=(x[:8], y[:8]), verbose=0,
              callbacks=[board])
    logs = model.evaluate(x, y, verbose=0, return_dict=True, callbacks=[board])
    events = _accumulator(tmp_path / "validation").Scalars("evaluation_loss_vs_iterations")
    assert [e.step for e in events] == [6, 12, 12]  # 48 samples / 8 per batch, per epoch
    assert events[-1].value == np.float32(logs["loss"])


def test_histograms_equal_numpys_of_the_weights_at_each_epoch(tmp_path, rng):
    x, y = _data(rng)
    model = _classifier()
    seen = []
    record = callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(
        {p.name: p.data.copy() for p in model.weights}))
    model.fit(x, y, epochs=4, batch_size=16, verbose=0,
              callbacks=[tb.TensorBoard(tmp_path, histogram_freq=2), record])
    train = _accumulator(tmp_path / "train")
    names = [p.name for p in model.weights]
    assert sorted(train.Tags()["histograms"]) == sorted(f"{n}/histogram" for n in names)
    for name in names:
        events = train.Histograms(f"{name}/histogram")
        assert [e.step for e in events] == [0, 2]
        for event in events:
            w = seen[event.step][name].astype(np.float64).ravel()
            h = event.histogram_value
            counts, edges = np.histogram(w, bins=30)
            np.testing.assert_array_equal(h.bucket, counts)
            np.testing.assert_allclose(h.bucket_limit, edges[1:])
            assert (h.num, h.min, h.max) == (w.size, w.min(), w.max())
            assert h.sum == pytest.approx(w.sum()) and h.sum_squares == pytest.approx(w @ w)


def test_png_decodes_to_the_same_pixels(rng):
    image_module = pytest.importorskip("PIL.Image", reason="decoding PNGs needs Pillow")
    import io

    for channels, mode in ((1, "L"), (3, "RGB"), (4, "RGBA")):
        pixels = rng.integers(0, 256, size=(5, 7, channels), dtype=np.uint8)
        decoded = image_module.open(io.BytesIO(tb.png(pixels)))
        assert decoded.mode == mode and decoded.size == (7, 5)
        np.testing.assert_array_equal(np.asarray(decoded).reshape(5, 7, channels), pixels)


def test_write_images_draws_the_weights_as_keras_does(tmp_path, rng):
    image_module = pytest.importorskip("PIL.Image", reason="decoding PNGs needs Pillow")
    import io

    x, y = _data(rng)
    model = _classifier()
    model.fit(x, y, epochs=1, verbose=0,
              callbacks=[tb.TensorBoard(tmp_path, histogram_freq=1, write_images=True)])
    train = _accumulator(tmp_path / "train")
    kernel, bias = model.layers[0].get_weights()  # (4, 5) and (5,)
    # a matrix taller than wide is transposed; a bias is one row; [0, 1] maps to 0..255
    for tag, expected in (("dense/kernel/image", kernel), ("dense/bias/image", bias[None, :])):
        (event,) = train.Images(tag)
        pixels = np.asarray(image_module.open(io.BytesIO(event.encoded_image_string)))
        assert (event.height, event.width) == expected.shape
        np.testing.assert_array_equal(pixels, np.clip(expected * 255.5, 0, 255).astype(np.uint8))
    assert train.Images("dense_1/kernel/image")[0].height == 3  # (5, 3) drawn as 3 x 5


def test_update_freq_writes_batch_scalars_every_n_batches(tmp_path, rng):
    x, y = _data(rng)
    model = _classifier()
    seen = []
    record = callbacks.LambdaCallback(on_batch_end=lambda batch, logs: seen.append(logs["loss"]))
    model.fit(x, y, epochs=2, batch_size=8, verbose=0,
              callbacks=[tb.TensorBoard(tmp_path, update_freq=4), record])
    events = _accumulator(tmp_path / "train").Scalars("batch_loss")
    assert [e.step for e in events] == [4, 8, 12]  # global batch numbers, from 1
    assert [e.value for e in events] == [np.float32(seen[i - 1]) for i in (4, 8, 12)]


def test_write_steps_per_second_logs_a_rate_per_epoch_and_per_batch(tmp_path, rng):
    x, y = _data(rng)
    model = _classifier()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0,
              callbacks=[tb.TensorBoard(tmp_path, write_steps_per_second=True)])
    train = _accumulator(tmp_path / "train")
    per_epoch = train.Scalars("epoch_steps_per_second")
    per_batch = train.Scalars("batch_steps_per_second")
    assert [e.step for e in per_epoch] == [0, 1]
    assert [e.step for e in per_batch] == [1, 2, 3, 4, 5, 6]  # 48 samples / 16, two epochs
    assert all(e.value > 0 for e in per_epoch + per_batch)


def test_the_model_graph_has_one_node_per_layer_with_its_inputs(tmp_path, rng):
    a, b = nl.Input((4,), name="a"), nl.Input((3,), name="b")
    inner = nl.Sequential([nl.layers.Dense(3, name="i1"), nl.layers.Dense(3, name="i2")],
                          name="inner")
    joined = nl.layers.Concatenate(name="join")([inner(a), nl.layers.Dense(3, name="side")(b)])
    model = nl.Model([a, b], nl.layers.Dense(1, name="out")(joined), name="net")
    model.compile(optimizer="sgd", loss="mse")
    x = [rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 3)).astype("float32")]
    model.fit(x, rng.normal(size=(8, 1)).astype("float32"), verbose=0,
              callbacks=[tb.TensorBoard(tmp_path)])
    graph = _accumulator(tmp_path / "train").Graph()
    nodes = {node.name: (node.op, list(node.input)) for node in graph.node}
    assert nodes == {
        "net/a": ("InputLayer", []), "net/b": ("InputLayer", []),
        "net/inner/i1": ("Dense", ["net/a"]), "net/inner/i2": ("Dense", ["net/inner/i1"]),
        "net/side": ("Dense", ["net/b"]), "net/join": ("Concatenate", ["net/inner/i2", "net/side"]),
        "net/out": ("Dense", ["net/join"])}


def test_tensorboards_server_side_reader_finds_every_dashboard(tmp_path, rng):
    """What ``tensorboard --logdir`` serves: the data provider behind its dashboards."""
    pytest.importorskip("tensorboard", reason=_TB_REASON)
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer

    x, y = _data(rng)
    model = _classifier()
    model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, verbose=0,
              callbacks=[tb.TensorBoard(tmp_path, histogram_freq=1, write_images=True)])
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(str(tmp_path))
    multiplexer.Reload()
    provider = data_provider.MultiplexerDataProvider(multiplexer, str(tmp_path))
    ctx = context.RequestContext()
    assert provider.list_plugins(ctx, experiment_id="") >= {"scalars", "histograms", "images",
                                                            "graphs"}
    scalars = provider.list_scalars(ctx, experiment_id="", plugin_name="scalars")
    assert set(scalars["train"]) == {"epoch_loss", "epoch_accuracy", "epoch_learning_rate"}
    assert {"epoch_loss", "epoch_accuracy"} <= set(scalars["validation"])
    histograms = provider.list_tensors(ctx, experiment_id="", plugin_name="histograms")
    assert set(histograms["train"]) == {f"{p.name}/histogram" for p in model.weights}


def test_nothing_is_written_without_logs_and_no_run_is_created(tmp_path):
    board = tb.TensorBoard(tmp_path, write_graph=False)
    board.set_model(_classifier())
    board.on_train_begin()
    board.on_train_end()
    assert not tmp_path.joinpath("train").exists()


def test_tensorboard_is_a_registered_keras_callback():
    import neuralab.keras as keras

    assert keras.callbacks.TensorBoard is tb.TensorBoard is callbacks.TensorBoard
    board = callbacks.get({"class_name": "TensorBoard",
                           "config": {"log_dir": "runs", "histogram_freq": 1}})
    assert isinstance(board, tb.TensorBoard) and board.log_dir == "runs"
    again = callbacks.deserialize({"class_name": "TensorBoard", "config": board.get_config()})
    assert again.get_config() == board.get_config()


@pytest.mark.parametrize("kwargs, message", [
    ({"update_freq": "step"}, "update_freq must be 'epoch', 'batch' or a positive integer"),
    ({"update_freq": 0}, "update_freq must be"),
    ({"histogram_freq": -1}, "histogram_freq must be an integer >= 0"),
])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tb.TensorBoard(**kwargs)


def test_options_that_need_tensorflow_warn():
    with pytest.warns(UserWarning, match="profile_batch=2 is accepted but not written"):
        tb.TensorBoard(profile_batch=2)


class _EpochCounter(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs_begun = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs_begun += 1


@pytest.mark.parametrize("where", ["file", "under_a_file", "run_is_a_file"])
def test_a_log_dir_that_cannot_be_a_directory_fails_before_the_first_epoch(tmp_path, rng, where):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    log_dir = {"file": blocker, "under_a_file": blocker / "logs", "run_is_a_file": tmp_path}[where]
    if where == "run_is_a_file":
        blocker.rename(tmp_path / "train")
    x, y = _data(rng)
    counter = _EpochCounter()
    named = tmp_path / "train" if where == "run_is_a_file" else log_dir
    with pytest.raises(InputError, match=re.escape(str(named)) + ".*TensorBoard"):
        _classifier().fit(x, y, epochs=2, verbose=0, callbacks=[counter, tb.TensorBoard(log_dir)])
    assert counter.epochs_begun == 0


def test_two_fits_into_one_log_dir_write_two_readable_files(tmp_path, rng):
    x, y = _data(rng)
    histories = [_classifier().fit(x, y, epochs=2, batch_size=8, verbose=0,
                                   callbacks=[tb.TensorBoard(tmp_path)]) for _ in range(2)]
    files = sorted((tmp_path / "train").glob("events.out.tfevents.*"))
    assert len(files) == 2
    for path, history in zip(files, histories):
        events = _accumulator(path).Scalars("epoch_loss")
        assert [e.step for e in events] == [0, 1]
        np.testing.assert_array_equal([e.value for e in events],
                                      np.float32(history.history["loss"]))
