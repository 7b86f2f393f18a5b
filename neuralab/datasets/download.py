"""Downloading the public datasets into a local cache, safely.

The cache is ``$NEURALAB_DATA`` or, by default, ``~/.cache/neuralab`` (``$XDG_CACHE_HOME``
respected), one folder per dataset. A download

* goes to ``<file>.part`` and is renamed to its final name only when complete and verified,
  so a crash never leaves a file that looks finished;
* resumes an interrupted ``.part`` with an HTTP ``Range`` request when the server allows;
* is verified with sha256 (of the file, or of its gunzipped payload when mirrors
  recompress); on a mismatch the temporary file is deleted and :class:`ChecksumError`
  names the file, the expected and the actual hash;
* shows a progress bar (tqdm) when asked to.

Tests never download: they use files under ``../shared/data`` or generated fixtures and a
local HTTP server.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..io_utils import atomic_open

CHUNK = 1 << 16


class DownloadError(OSError):
    """Every mirror failed (the message lists why); a partial ``.part`` file is kept for resuming."""


class ChecksumError(DownloadError, ValueError):
    """A downloaded file's sha256 differs from the expected one (it has been deleted).

    A failed download (exit code 1 on the command line, like :class:`DownloadError`); also a
    ``ValueError`` for code written against earlier versions.
    """


@dataclass(frozen=True)
class RemoteFile:
    name: str
    urls: tuple[str, ...]
    sha256: str | None = None
    payload_sha256: str | None = None  # sha256 after gunzip, for mirrors that re-compress
    size: int | None = None


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    files: tuple[RemoteFile, ...]
    extract: str | None = None  # archive member folder to unpack into the dataset folder
    present_marker: tuple[str, ...] = field(default_factory=tuple)


_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                  "https://storage.googleapis.com/cvdf-datasets/mnist/")
_FASHION_MIRRORS = ("https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
                    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")


def _idx_files(mirrors, payloads: dict[str, str], sha256s: dict[str, str] | None = None):
    return tuple(RemoteFile(name=f"{stem}.gz", urls=tuple(m + f"{stem}.gz" for m in mirrors),
                            sha256=(sha256s or {}).get(stem), payload_sha256=payloads[stem])
                 for stem in payloads)


REGISTRY: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(
        "mnist", "MNIST handwritten digits, 60,000 + 10,000 28x28 images, 10 classes (11 MB)",
        _idx_files(_MNIST_MIRRORS, {
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        })),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist", "Fashion-MNIST, 60,000 + 10,000 28x28 images, 10 classes (30 MB)",
        _idx_files(_FASHION_MIRRORS, {
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        }, {
            "train-images-idx3-ubyte": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        })),
    "cifar10": DatasetInfo(
        "cifar10", "CIFAR-10 python batches, 50,000 + 10,000 32x32x3 images, 10 classes (163 MB)",
        (RemoteFile("cifar-10-python.tar.gz",
                    ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
                    sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                    size=170498071),),
        extract="cifar-10-batches-py",
        present_marker=("data_batch_1", "data_batch_5", "test_batch")),
}


def data_home() -> Path:
    """The cache folder: ``$NEURALAB_DATA``, else ``$XDG_CACHE_HOME/neuralab`` or ``~/.cache/neuralab``."""
    if os.environ.get("NEURALAB_DATA"):
        return Path(os.environ["NEURALAB_DATA"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "neuralab"


def cache_home() -> Path:
    """Where neuralab writes derived data (e.g. audio features): ``$NEURALAB_CACHE``, else
    the data folder when it is writable, else ``$XDG_CACHE_HOME/neuralab``. A read-only data
    folder (a shared, mounted copy) is then still usable."""
    if os.environ.get("NEURALAB_CACHE"):
        return Path(os.environ["NEURALAB_CACHE"]).expanduser()
    home = data_home()
    probe = home if home.exists() else home.parent
    if os.access(probe, os.W_OK):
        return home
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "neuralab"


def dataset_info(name: str) -> DatasetInfo:
    if name not in REGISTRY:
        raise ValueError(f"Unknown dataset {name!r}; downloadable: {sorted(REGISTRY)}")
    return REGISTRY[name]


def dataset_dir(name: str) -> Path:
    return data_home() / dataset_info(name).name


def is_present(name: str) -> bool:
    info = dataset_info(name)
    folder = dataset_dir(name)
    markers = info.present_marker or tuple(f.name for f in info.files)
    return all((folder / m).is_file() for m in markers)


def sha256_of(path: Path, gunzip: bool = False) -> str:
    digest = hashlib.sha256()
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(path: Path, sha256: str | None = None, payload_sha256: str | None = None,
           display_name: str | None = None) -> None:
    """Raise :class:`ChecksumError` (and delete ``path``) unless the hashes match."""
    checks = []
    if sha256:
        checks.append(("sha256", sha256, lambda: sha256_of(path)))
    if payload_sha256:
        checks.append(("sha256 of the uncompressed payload", payload_sha256,
                       lambda: sha256_of(path, gunzip=True)))
    for label, expected, compute in checks:
        try:
            actual = compute()
        except (OSError, EOFError) as error:
            actual = f"unreadable ({error})"
        if actual != expected:
            path.unlink(missing_ok=True)
            raise ChecksumError(f"{display_name or path.name}: {label} mismatch: expected "
                                f"{expected}, got {actual}; the download was deleted")


def _progress(total, name, enabled):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False)


def _fetch(url: str, part: Path, timeout: float, progress: bool) -> None:
    """Download ``url`` into ``part``, resuming from its current size when possible."""
    import http.client  # the network modules load when a download happens, not on import
    import urllib.request
    start = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "neuralab"}
    if start:
        headers["Range"] = f"bytes={start}-"
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        if start and response.status != 206:
            start = 0  # the server ignored the range: start over
        length = response.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        bar = _progress(total, part.name.removesuffix(".part"), progress)
        if bar is not None:
            bar.update(start)
        written = start
        try:
            with open(part, "ab" if start else "wb") as f:
                while True:
                    try:
                        chunk = response.read(CHUNK)
                    except http.client.IncompleteRead as error:
                        f.write(error.partial)
                        written += len(error.partial)
                        raise OSError(f"connection dropped after {written} of {total} bytes") from None
                    if not chunk:
                        break
                    f.write(chunk)
                    written += len(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        if total is not None and written != total:
            raise OSError(f"connection dropped after {written} of {total} bytes")


def download_file(remote: RemoteFile, folder: Path, progress: bool = True,
                  timeout: float = 60.0) -> Path:
    """Fetch one file into ``folder`` (trying each mirror), verified, renamed atomically."""
    import http.client
    import urllib.error
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / remote.name
    part = folder / (remote.name + ".part")
    failures = []
    for url in remote.urls:
        try:
            _fetch(url, part, timeout, progress)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            failures.append(f"{url}: {error}")
            continue
        verify(part, remote.sha256, remote.payload_sha256, display_name=remote.name)
        os.replace(part, dest)
        return dest
    kept = f"; {part.stat().st_size} bytes kept in {part} to resume" if part.exists() else ""
    raise DownloadError(f"Could not download {remote.name}:\n  " + "\n  ".join(failures) + kept)


def fetch(name: str, force: bool = False, progress: bool = True) -> Path:
    """Download dataset ``name`` into the cache (unless present) and return its folder."""
    info = dataset_info(name)
    folder = dataset_dir(name)
    if is_present(name) and not force:
        return folder
    for remote in info.files:
        target = folder / remote.name
        if target.is_file() and not force:
            continue
        download_file(remote, folder, progress=progress)
    if info.extract:
        _extract(folder / info.files[0].name, folder, info.extract)
    return folder


def _extract(archive: Path, folder: Path, member_dir: str) -> None:
    """Unpack ``member_dir/*`` of a tar archive flat into ``folder`` (regular files only)."""
    import tarfile
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) != 2 or parts[0] != member_dir:
                continue
            with atomic_open(folder / parts[1]) as f:
                shutil.copyfileobj(tar.extractfile(member), f)


def resolve_dataset_folder(name: str, path=None, download: bool = False) -> Path:
    """``path`` if given; else the cache folder, downloading it first if ``download``."""
    if path is not None:
        return Path(path)
    if is_present(name):
        return dataset_dir(name)
    if download:
        return fetch(name)
    raise FileNotFoundError(
        f"Dataset {name!r} is not in the cache ({dataset_dir(name)}): pass path=... to a folder "
        f"holding its files, download=True, or run `neuralab data get {name}`")
