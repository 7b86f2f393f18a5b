"""TensorBoard event files without TensorFlow, and Keras' ``TensorBoard`` callback.

An event file is a sequence of TFRecords, each holding one serialized ``Event`` protobuf::

    record = len (uint64 LE) | masked_crc32c(len) (uint32 LE) | data | masked_crc32c(data)
    masked_crc32c(x) = ((crc >> 15) | (crc << 17)) + 0xa282ead8   (mod 2^32)

``crc`` is CRC-32C (Castagnoli, reflected polynomial ``0x82F63B78``). The protobufs are
written field by field: a key ``(field_number << 3) | wire_type`` (a varint), then a varint
(type 0), 8 little-endian bytes (type 1), a varint length and the bytes (type 2) or 4
bytes (type 5). The messages and field numbers used, from TensorFlow's ``event.proto`` and
``summary.proto``::

    Event          wall_time=1 (double), step=2 (int64), file_version=3, graph_def=4,
                   summary=5
    GraphDef       node=1 (repeated NodeDef: name=1, op=2, input=3 (repeated))
    Summary        value=1 (repeated Summary.Value)
    Summary.Value  tag=1, simple_value=2 (float), image=4, histo=5, tensor=8, metadata=9
    Summary.Image  height=1, width=2, colorspace=3 (int32), encoded_image_string=4 (PNG)
    HistogramProto min=1, max=2, num=3, sum=4, sum_squares=5 (doubles),
                   bucket_limit=6, bucket=7 (packed doubles)

TensorBoard itself reads these (``tensorboard --logdir logs``); no package is needed to
write them.
"""

from __future__ import annotations

import os
import socket
import struct
import time
import warnings
import zlib
from collections.abc import Iterable

import numpy as np

from . import callbacks
from .errors import InputError

__all__ = ["crc32c", "masked_crc32c", "EventFileWriter", "TensorBoard"]


# -- CRC-32C ---------------------------------------------------------------------------------
def _crc_table(polynomial: int = 0x82F63B78) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (polynomial if crc & 1 else 0)
        table.append(crc)
    return table


_CRC_TABLE = _crc_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``, as iSCSI (RFC 3720) and TFRecord use it.

    Example::

        crc32c(b"123456789") == 0xE3069283
    """
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC: rotate right by 15 bits and add ``0xa282ead8`` (mod 2^32)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def tfrecord(data: bytes) -> bytes:
    """``data`` framed as one TFRecord (length, its masked CRC, data, its masked CRC)."""
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", masked_crc32c(length)) + data
            + struct.pack("<I", masked_crc32c(data)))


# -- protobuf encoding -------------------------------------------------------------------------
def _varint(n: int) -> bytes:
    """Base-128 varint: 7 bits per byte, low bits first, high bit set on all but the last
    (a negative int64 is written as its 64-bit two's complement)."""
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint((number << 3) | wire_type)


def _int_field(number: int, value: int) -> bytes:
    return _key(number, 0) + _varint(value)


def _double_field(number: int, value: float) -> bytes:
    return _key(number, 1) + struct.pack("<d", value)


def _float_field(number: int, value: float) -> bytes:
    return _key(number, 5) + struct.pack("<f", value)


def _bytes_field(number: int, payload: bytes | str) -> bytes:
    payload = payload.encode() if isinstance(payload, str) else payload
    return _key(number, 2) + _varint(len(payload)) + payload


def _packed_doubles(number: int, values: Iterable[float]) -> bytes:
    return _bytes_field(number, np.asarray(list(values), dtype="<f8").tobytes())


def scalar_value(tag: str, value: float) -> bytes:
    """A ``Summary.Value`` holding a scalar (``simple_value``)."""
    return _bytes_field(1, tag) + _float_field(2, float(value))


def histogram_value(tag: str, values: np.ndarray, bins: int = 30) -> bytes:
    """A ``Summary.Value`` holding the histogram of ``values`` (any shape): ``bins``
    equal-width buckets over ``[min, max]``, each limit the bucket's right edge."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    if x.size == 0:
        raise ValueError(f"histogram {tag!r}: cannot summarise an empty array")
    counts, edges = np.histogram(x, bins=bins)
    histo = (_double_field(1, float(x.min())) + _double_field(2, float(x.max()))
             + _double_field(3, float(x.size)) + _double_field(4, float(x.sum()))
             + _double_field(5, float(np.dot(x, x)))
             + _packed_doubles(6, edges[1:]) + _packed_doubles(7, counts))
    return _bytes_field(1, tag) + _bytes_field(5, histo)


def png(pixels: np.ndarray) -> bytes:
    """A PNG file of ``pixels``, uint8 of shape (H, W, C) with C = 1 (grey), 3 (RGB) or 4
    (RGBA): signature, IHDR, one zlib-compressed IDAT of the rows (each after a 0 "no
    filter" byte), IEND; each chunk ``length | type | data | crc32(type + data)``."""
    height, width, channels = pixels.shape
    color_type = {1: 0, 3: 2, 4: 6}[channels]

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = np.concatenate([np.zeros((height, 1), np.uint8),
                           np.ascontiguousarray(pixels, np.uint8).reshape(height, -1)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows.tobytes())) + chunk(b"IEND", b""))


def image_value(tag: str, image: np.ndarray) -> bytes:
    """A ``Summary.Value`` holding one image, (H, W, C) floats in [0, 1] (clipped, then
    scaled to 0..255 as ``tf.image.convert_image_dtype`` does)."""
    pixels = np.clip(np.asarray(image, np.float64) * 255.5, 0, 255).astype(np.uint8)
    height, width, channels = pixels.shape
    message = (_int_field(1, height) + _int_field(2, width) + _int_field(3, channels)
               + _bytes_field(4, png(pixels)))
    return _bytes_field(1, tag) + _bytes_field(4, message)


def weight_images(weight: np.ndarray) -> np.ndarray | None:
    """Keras' picture of a weight as a batch (N, H, W, 1), or ``None`` when it has none:
    after squeezing, a bias is one row, a matrix is drawn wide (transposed when taller
    than wide), a 3-D kernel is one image per last axis; 4-D kernels are not drawn."""
    w = np.squeeze(np.asarray(weight))
    if w.ndim == 1:
        return w.reshape(1, 1, -1, 1)
    if w.ndim == 2:
        w = w.T if w.shape[0] > w.shape[1] else w
        return w.reshape(1, *w.shape, 1)
    if w.ndim == 3:
        return np.transpose(w, (2, 0, 1))[..., None]
    return None


def graph_def(model) -> bytes:
    """A ``GraphDef`` of ``model``'s layers (nested models expanded, names scoped by the
    model's name): one ``NodeDef`` per layer, input and op, its ``op`` the class name and its
    ``input`` the names of the boxes feeding it (:func:`neuralab.utils.model_graph`)."""
    from .utils.model_visualization import model_graph

    nodes, edges = model_graph(model, expand_nested=True)
    names = {key: f"{model.name}/{name}" for key, name, _ in nodes}
    inputs: dict[str, list[str]] = {key: [] for key, _, _ in nodes}
    for source, destination in edges:
        inputs[destination].append(names[source])
    return b"".join(_bytes_field(1, _bytes_field(1, names[key]) + _bytes_field(2, class_name)
                                 + b"".join(_bytes_field(3, name) for name in inputs[key]))
                    for key, _, class_name in nodes)


def event(step: int, values: Iterable[bytes] = (), wall_time: float | None = None,
          file_version: str | None = None, graph: bytes | None = None) -> bytes:
    """A serialized ``Event`` at ``step`` holding the ``Summary.Value`` messages ``values``
    (or a ``file_version``, or a serialized ``GraphDef``)."""
    data = _double_field(1, time.time() if wall_time is None else wall_time) + _int_field(2, step)
    if file_version is not None:
        data += _bytes_field(3, file_version)
    if graph is not None:
        data += _bytes_field(4, graph)
    summary = b"".join(_bytes_field(1, value) for value in values)
    if summary:
        data += _bytes_field(5, summary)
    return data


# -- writing -----------------------------------------------------------------------------------
class EventFileWriter:
    """Appends events to ``logdir/events.out.tfevents.<time>.<host>.<pid>.<n>.v2``.

    The file is created on the first write (as TensorFlow's writers do, no empty run
    appears for a writer that never writes). Example::

        with EventFileWriter("logs/train") as writer:
            writer.scalar("epoch_loss", 0.25, step=0)
    """

    _count = 0

    def __init__(self, logdir: str | os.PathLike):
        self.logdir = str(logdir)
        self._file = None
        self.path: str | None = None

    def _open(self):
        if self._file is None:
            os.makedirs(self.logdir, exist_ok=True)
            EventFileWriter._count += 1
            name = (f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}."
                    f"{os.getpid()}.{EventFileWriter._count}.v2")
            self.path = os.path.join(self.logdir, name)
            self._file = open(self.path, "ab")  # noqa: SIM115 - open until close()
            self._file.write(tfrecord(event(0, file_version="brain.Event:2")))
        return self._file

    def write(self, step: int, values: Iterable[bytes] = (), graph: bytes | None = None) -> None:
        """One event at ``step`` with the given ``Summary.Value`` messages (or ``GraphDef``)."""
        self._open().write(tfrecord(event(int(step), values, graph=graph)))

    def scalar(self, tag: str, value: float, step: int) -> None:
        self.write(step, [scalar_value(tag, value)])

    def histogram(self, tag: str, values: np.ndarray, step: int, bins: int = 30) -> None:
        self.write(step, [histogram_value(tag, values, bins)])

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> EventFileWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- the callback ------------------------------------------------------------------------------
def _scalars(logs) -> list[tuple[str, float]]:
    """The scalar entries of ``logs``; a vector metric (``F1Score(average=None)``: one value
    per class) is left out, as a scalar summary cannot hold it."""
    return [(name, value) for name, value in (logs or {}).items() if np.ndim(value) == 0]


class TensorBoard(callbacks.Callback):
    """Keras 3's TensorBoard callback: logs for ``tensorboard --logdir <log_dir>``.

    Writes, as Keras does, into ``log_dir/train`` and ``log_dir/validation``:

    * at each epoch end ``epoch_<name>`` scalars at step ``epoch`` (from 0): the training
      logs and ``epoch_learning_rate`` (in place of neuralab's ``lr``) in ``train``, the
      ``val_*`` logs (prefix removed) in ``validation``; ``epoch_steps_per_second`` with
      ``write_steps_per_second``;
    * with ``update_freq="batch"`` or an integer ``n``: ``batch_<name>`` scalars every
      ``n`` training batches, at the global batch number (from 1);
    * after each validation or ``evaluate``: ``evaluation_<name>_vs_iterations`` at the
      optimizer's step count, in ``validation``;
    * with ``histogram_freq=k > 0``: every ``k`` epochs a histogram of each weight, tagged
      ``<weight path>/histogram`` (30 equal-width buckets), and with ``write_images`` the
      weights as images, tagged ``<weight path>/image`` (Keras' layout, see
      :func:`weight_images`; values clipped to [0, 1]; at most 3 images per weight, the
      2nd and 3rd tagged ``.../image/1``, ``.../image/2``);
    * with ``write_graph`` (default): the graph of the model's layers (a ``GraphDef``, one
      node per layer named ``<model>/<layer>``, nested models expanded), which
      TensorBoard's Graphs tab draws. (Keras writes its JSON config for the tab's
      "conceptual graph"; neuralab's ``to_json`` is its own format, so the layer graph is
      written directly.)

    Accepted for compatibility and not acted on (each warns when switched on):
    ``profile_batch`` (Keras' profiler traces) and ``embeddings_freq`` /
    ``embeddings_metadata`` (a TensorFlow checkpoint for the projector).

    Example::

        model.fit(x, y, epochs=5, validation_split=0.2,
                  callbacks=[TensorBoard(log_dir="logs", histogram_freq=1)])
    """

    def __init__(self, log_dir: str | os.PathLike = "logs", histogram_freq: int = 0,
                 write_graph: bool = True, write_images: bool = False,
                 write_steps_per_second: bool = False, update_freq: str | int = "epoch",
                 profile_batch: int | tuple | str = 0, embeddings_freq: int = 0,
                 embeddings_metadata=None):
        super().__init__()
        if not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"histogram_freq must be an integer >= 0, got {histogram_freq!r}")
        if update_freq not in ("epoch", "batch") and not (
                isinstance(update_freq, int) and not isinstance(update_freq, bool) and update_freq > 0):
            raise ValueError(f"update_freq must be 'epoch', 'batch' or a positive integer, "
                             f"got {update_freq!r}")
        self.log_dir = str(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph, self.write_images = write_graph, write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        self.profile_batch, self.embeddings_freq = profile_batch, embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        for name, value in (("profile_batch", profile_batch), ("embeddings_freq", embeddings_freq)):
            if value:
                warnings.warn(f"TensorBoard: {name}={value!r} is accepted but not written by "
                              "neuralab (it needs TensorFlow); scalars, histograms and the model "
                              "graph are", stacklevel=2)
        self._writers: dict[str, EventFileWriter] = {}
        self._global_train_batch = 0

    def get_config(self) -> dict:
        return {"log_dir": self.log_dir, "histogram_freq": self.histogram_freq,
                "write_graph": self.write_graph, "write_images": self.write_images,
                "write_steps_per_second": self.write_steps_per_second,
                "update_freq": "batch" if self.update_freq == 1 else self.update_freq,
                "profile_batch": self.profile_batch, "embeddings_freq": self.embeddings_freq,
                "embeddings_metadata": self.embeddings_metadata}

    def _writer(self, run: str) -> EventFileWriter:
        if run not in self._writers:
            self._writers[run] = EventFileWriter(os.path.join(self.log_dir, run))
        return self._writers[run]

    def _check_log_dir(self) -> None:
        """Create ``log_dir`` before the first epoch and check that its ``train`` and
        ``validation`` runs can be made in it, so that a path that cannot hold the event files
        fails now, not after an epoch of training (the runs themselves are made on first write)."""
        expected = "a directory TensorBoard can create and write in"
        try:
            os.makedirs(self.log_dir, exist_ok=True)
        except OSError as error:
            raise InputError(f"TensorBoard cannot create this log_dir ({error.strerror})",
                             self.log_dir, expected) from None
        if not os.access(self.log_dir, os.W_OK | os.X_OK):
            raise InputError("TensorBoard cannot write in this log_dir", self.log_dir, expected)
        for run in ("train", "validation"):
            path = os.path.join(self.log_dir, run)
            if os.path.exists(path) and not os.path.isdir(path):
                raise InputError(f"TensorBoard's {run!r} run is a file, not a directory", path,
                                 expected)

    def wants_batches(self) -> bool:
        return self.update_freq != "epoch" or self.write_steps_per_second

    def _iterations(self) -> int:
        return int(getattr(getattr(self.model, "optimizer", None), "iterations", 0) or 0)

    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._check_log_dir()
        if self.write_graph and self.model.built:
            self._writer("train").write(0, graph=graph_def(self.model))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = (time.perf_counter(), self._iterations())

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        step = self._global_train_batch
        values = []
        if self.write_steps_per_second:
            elapsed = time.perf_counter() - self._batch_start
            values.append(scalar_value("batch_steps_per_second", 1.0 / max(elapsed, 1e-12)))
        if self.update_freq != "epoch" and step % self.update_freq == 0:
            values += [scalar_value(f"batch_{name}", value) for name, value in _scalars(logs)]
        if values:
            self._writer("train").write(step, values)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and logs:
            self._writer("validation").write(self._iterations(), [
                scalar_value(f"evaluation_{name}_vs_iterations", value)
                for name, value in _scalars(logs)])
            self._writer("validation").flush()

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(_scalars(logs))
        train = {k: v for k, v in logs.items() if not k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:  # one curve for the rate: neuralab also logs it as "lr"
            train.pop("lr", None)
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            start, iterations = self._epoch_start
            train["steps_per_second"] = ((self._iterations() - iterations)
                                         / max(time.perf_counter() - start, 1e-12))
        validation = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
        for run, values in (("train", train), ("validation", validation)):
            if values:
                self._writer(run).write(epoch, [scalar_value(f"epoch_{name}", value)
                                                for name, value in values.items()])
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._writer("train").write(epoch, self._weight_summaries())
        for writer in self._writers.values():
            writer.flush()

    def _weight_summaries(self) -> list[bytes]:
        values = []
        for layer in self.model.layers:
            for p in layer.weights:
                name = p.name.replace(":", "_")
                values.append(histogram_value(f"{name}/histogram", p.data))
                images = weight_images(p.data) if self.write_images else None
                if images is not None and images.size:
                    values += [image_value(f"{name}/image" + (f"/{i}" if i else ""), image)
                               for i, image in enumerate(images[:3])]
        return values

    def on_train_end(self, logs=None):
        for writer in self._writers.values():
            writer.close()


callbacks._REGISTRY.register(TensorBoard)
