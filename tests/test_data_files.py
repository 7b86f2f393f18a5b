"""Damaged and crafted data files: every loader refuses them with a message naming the file
(and the key), what it found and what it expected; memory stays bounded whatever a header
claims."""

import gzip
import re
import struct
import tracemalloc

import numpy as np
import pytest

import neuralab.datasets as D
from neuralab.datasets.catalog import describe
from neuralab.datasets.idx import read_idx, write_idx
from neuralab.datasets.npzfile import load_npz, npz_headers
from neuralab.errors import InputError

MiB = 1 << 20


def idx_header(shape, type_code=0x08):
    return struct.pack(">HBB", 0, type_code, len(shape)) + struct.pack(">" + "I" * len(shape), *shape)


def peak_bytes(function):
    """Run ``function`` (which must raise a DatasetFileError); its traced peak memory and error."""
    tracemalloc.start()
    try:
        with pytest.raises(D.DatasetFileError) as caught:
            function()
        return tracemalloc.get_traced_memory()[1], caught.value
    finally:
        tracemalloc.stop()


# --- IDX: streamed, bounded ---------------------------------------------------------------------------------
def test_idx_header_claiming_huge_dims_fails_fast_with_an_exact_byte_count(tmp_path):
    path = tmp_path / "bomb-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header((4_000_000_000, 60_000, 60_000)) + bytes(100)))
    peak, error = peak_bytes(lambda: read_idx(path))
    assert peak < MiB
    # 4e9 * 6e4 * 6e4 overflows int64: the count must be Python's exact integer
    assert "14,400,000,000,000,000,000 bytes" in str(error) and str(path) in str(error)
    assert "expected at most 2,147,483,648 bytes" in str(error)


def test_idx_header_claiming_more_than_the_gzip_can_hold_is_refused_before_reading(tmp_path):
    path = tmp_path / "claims-1gib-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header((1_000_000, 1000, 1)) + bytes(1000)))
    peak, error = peak_bytes(lambda: read_idx(path))
    assert peak < MiB
    assert "1,000,000,000 bytes" in str(error) and "inflates to at most" in str(error)


def test_idx_gzip_bomb_after_the_data_is_refused_in_bounded_memory(tmp_path):
    """A small header and 784 bytes of data, then 100 MiB of zeros (a 100 KB .gz): the old
    reader inflated all of it before looking."""
    path = tmp_path / "train-images-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(idx_header((1, 28, 28)) + bytes(784))
        for _ in range(100):
            f.write(bytes(MiB))
    assert path.stat().st_size < MiB
    peak, error = peak_bytes(lambda: read_idx(path))
    assert peak < 8 * MiB
    assert "more than 67,108,864 unexpected bytes after the data of shape (1, 28, 28)" in str(error)


def test_idx_short_gzip_stream_is_refused_as_truncated(tmp_path):
    path = tmp_path / "short-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_header((7840,)) + bytes(7000)))
    with pytest.raises(D.DatasetFileError, match=r"truncated: header announces shape \(7840,\) "
                                                 r"\(7,840 bytes\) but only 7,000 bytes follow"):
        read_idx(path)


def test_raw_idx_with_trailing_bytes_is_refused_from_its_size(tmp_path):
    path = tmp_path / "raw-idx1-ubyte"
    path.write_bytes(idx_header((10,)) + bytes(13))
    with pytest.raises(D.DatasetFileError, match="3 unexpected bytes after the data"):
        read_idx(path)


@pytest.mark.parametrize("code, dtype", [(0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")])
def test_idx_big_endian_types_come_out_native(tmp_path, code, dtype):
    values = np.arange(-6, 6).reshape(3, 4).astype(dtype)
    path = tmp_path / "values.idx.gz"
    path.write_bytes(gzip.compress(idx_header((3, 4), code) + values.tobytes()))
    array = read_idx(path)
    assert array.dtype.isnative and array.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(array, np.arange(-6, 6).reshape(3, 4))


def test_single_idx_file_is_described(tmp_path):
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([1, 2, 2, 9], np.uint8))
    text = describe(tmp_path / "train-labels-idx1-ubyte.gz")
    assert "format: IDX (gzip)" in text and "shape (4,), dtype uint8" in text
    assert "values 1..9" in text and "1: 1, 2: 2, 9: 1" in text


# --- EEE443 .h5: no silent cast to uint8 --------------------------------------------------------------------
def cat_vs_car_file(path, images):
    h5py = pytest.importorskip("h5py")
    with h5py.File(path, "w") as f:
        f["trainims"], f["testims"] = images, images[:2]
        f["trainlbls"], f["testlbls"] = np.zeros(len(images)), np.ones(2)
    return path


@pytest.mark.parametrize("images, found", [
    (np.full((4, 32, 32), 0.5), (r"holds float64 values in 0.5..0.5 with fractions .*"
                                 r"scaled to \[0, 1\] must be multiplied by 255")),
    (np.where(np.eye(32) > 0, np.nan, 7.0)[None].repeat(4, 0),
     r"holds float64 with 128 NaN or infinite values \(the others in 7..7\)"),
    (np.full((4, 32, 32), -5, np.int16), "holds int16 values in -5..-5, outside 0..255"),
    (np.full((4, 32, 32), 300, np.uint16), "holds uint16 values in 300..300, outside 0..255"),
    (np.full((4, 32, 32), 1e9, np.float32), "holds float32 values in 1e.09..1e.09, outside 0..255"),
])
def test_cat_vs_car_pixels_that_would_be_cast_wrongly_are_refused(tmp_path, images, found):
    path = cat_vs_car_file(tmp_path / "bad.h5", images)
    with pytest.raises(D.DatasetFileError) as caught:
        D.load_cat_vs_car(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: dataset 'trainims' ")
    assert message.endswith("(expected uint8 pixel values: integers in 0..255)")
    assert re.search(found, message), message


def test_cat_vs_car_integral_floats_in_range_are_accepted(tmp_path):
    images = np.arange(4 * 32 * 32).reshape(4, 32, 32) % 256
    path = cat_vs_car_file(tmp_path / "ok.h5", images.astype(np.float64))
    (x_train, _), _ = D.load_cat_vs_car(path)
    assert x_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train, images.transpose(0, 2, 1))


def test_letters_npy_in_zero_one_is_refused_naming_the_file(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "train_images.npy", rng.random((28, 28, 4)))
    np.save(tmp_path / "test_images.npy", np.zeros((28, 28, 2), np.uint8))
    np.save(tmp_path / "train_labels.npy", np.ones((4, 1), np.uint8))
    np.save(tmp_path / "test_labels.npy", np.ones((2, 1), np.uint8))
    with pytest.raises(D.DatasetFileError, match=r"train_images.npy: dataset 'train_images' holds "
                                                 r"float64 .* with fractions"):
        D.load_letters(tmp_path)


def test_data_info_reports_a_zero_one_h5_as_bad(tmp_path, capsys):
    from neuralab.cli import main
    path = cat_vs_car_file(tmp_path / "scaled.h5", np.full((4, 32, 32), 0.25))
    assert main(["data", "info", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and f"neuralab: error: {path}: dataset 'trainims' holds float64" \
        in captured.err


# --- .npz ---------------------------------------------------------------------------------------------------
def test_npz_headers_name_the_object_array(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, fine=np.zeros(3), things=np.array([1, "a", None], dtype=object))
    with pytest.raises(InputError, match=r"obj.npz: array 'things' holds Python objects"):
        npz_headers(path)


def test_npz_headers_read_no_array_data(tmp_path):
    path = tmp_path / "big.npz"
    np.savez(path, a=np.zeros((2000, 1000)), s=np.array(["ab", "c"]))
    tracemalloc.start()
    try:
        headers = npz_headers(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert headers == {"a": ((2000, 1000), np.dtype(np.float64)), "s": ((2,), np.dtype("<U2"))}
    assert peak < MiB


def test_truncated_and_corrupt_npz_are_refused_naming_the_file(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.arange(10_000))
    data = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError, match=r"cut.npz: not a readable .npz archive"):
        npz_headers(tmp_path / "cut.npz")
    corrupt = bytearray(data)
    corrupt[5000:5010] = b"x" * 10
    (tmp_path / "crc.npz").write_bytes(bytes(corrupt))
    with pytest.raises(InputError, match=r"crc.npz: damaged array data \(Bad CRC-32"):
        load_npz(tmp_path / "crc.npz")
    with pytest.raises(InputError, match=r"missing array\(s\) \['y'\]; it holds \['x'\]"):
        load_npz(path, ["x", "y"])
