"""The package-file source, offline: tiny wheel, sdist and .deb archives built here."""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest

from leanml.core import ChecksumError, DataError, FetchError, PackageFile, fetch_file
from leanml.core import package_files as pkg

PAYLOAD = b"label,x\n1,0.5\n"
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def build_wheel(directory: Path, name: str = "tinydata", version: str = "1.0") -> Path:
    path = directory / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{name}/__init__.py", "")
        zf.writestr(f"{name}/data/table.csv", PAYLOAD)
        zf.writestr(
            f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        )
        zf.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        zf.writestr(f"{info}/RECORD", "")
    return path


def _tar_bytes(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def build_sdist(directory: Path) -> Path:
    path = directory / "tinydata-2.0.tar.gz"
    path.write_bytes(_tar_bytes({"tinydata-2.0/tinydata/data/table.csv": PAYLOAD}))
    return path


def build_deb(directory: Path, compression: str = "xz") -> Path:
    """A minimal .deb: an ar archive of debian-binary, control.tar.gz and data.tar.xz/zst."""
    data = _tar_bytes({"./usr/share/tinydata/table.csv": PAYLOAD}, "w")
    if compression == "xz":
        data = lzma.compress(data)
    else:
        data = pytest.importorskip("zstandard").ZstdCompressor().compress(data)
    members = {
        "debian-binary": b"2.0\n",
        "control.tar.gz": _tar_bytes({"./control": b"Package: tinydata\n"}),
        f"data.tar.{compression}": data,
    }
    out = bytearray(b"!<arch>\n")
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n"
        out += header.encode() + data + (b"\n" if len(data) % 2 else b"")
    path = directory / "tinydata_3.0_all.deb"
    path.write_bytes(bytes(out))
    return path


@pytest.fixture
def offline_index(tmp_path, monkeypatch):
    """Point pip at a local folder only (no index, no user config)."""
    links = tmp_path / "links"
    links.mkdir()
    for var in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_CONSTRAINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    return links


def test_wheel_download_verify_and_cache_reuse(offline_index, monkeypatch):
    build_wheel(offline_index)
    pf = PackageFile("tinydata", "1.0", "tinydata/data/table.csv", SHA)
    path = fetch_file(pf)
    assert path.read_bytes() == PAYLOAD
    assert list((pkg.cache_dir() / "archives" / "pypi" / "tinydata-1.0").glob("*.whl"))

    def no_download(*args):
        raise AssertionError("cache was not reused")

    monkeypatch.setattr(pkg, "_download", no_download)
    assert fetch_file(pf) == path
    path.unlink()  # the extracted copy is gone, the archive is still cached
    assert fetch_file(pf).read_bytes() == PAYLOAD


def test_checksum_mismatch_is_an_error(offline_index):
    build_wheel(offline_index)
    pf = PackageFile("tinydata", "1.0", "tinydata/data/table.csv", "ab" * 32)
    with pytest.raises(ChecksumError, match=r"checksum mismatch for tinydata==1\.0"):
        fetch_file(pf)


def test_unknown_version_and_unreachable_index(offline_index, monkeypatch):
    build_wheel(offline_index)
    with pytest.raises(FetchError, match=r"could not download tinydata==9\.9"):
        fetch_file(PackageFile("tinydata", "9.9", "tinydata/data/table.csv", SHA))
    monkeypatch.delenv("PIP_NO_INDEX")
    monkeypatch.delenv("PIP_FIND_LINKS")
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_RETRIES", "0")
    with pytest.raises(FetchError, match="check that a package index is reachable"):
        fetch_file(PackageFile("tinydata", "1.0", "tinydata/data/table.csv", SHA))


def test_unreachable_index_fails_within_seconds(monkeypatch):
    """A host that accepts nothing: pip's default (15 s timeout, 5 retries) took minutes."""
    for var in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_DEFAULT_TIMEOUT", "180")  # what this machine's environment sets
    monkeypatch.setenv("PIP_INDEX_URL", "http://10.255.255.1/simple")  # unroutable: hangs
    t0 = time.perf_counter()
    with pytest.raises(FetchError, match="check that a package index is reachable"):
        fetch_file(PackageFile("tinydata", "1.0", "tinydata/data/table.csv", SHA))
    assert time.perf_counter() - t0 < 20


def test_offline_mode_refuses_to_download(monkeypatch):
    with pytest.raises(FetchError, match="not cached"):
        fetch_file(PackageFile("tinydata", "1.0", "x.csv", SHA), download=False)

    def no_download(*args):
        raise AssertionError("LEANML_OFFLINE must not download")

    monkeypatch.setattr(pkg, "_download", no_download)
    monkeypatch.setenv("LEANML_OFFLINE", "1")
    with pytest.raises(FetchError, match="downloads are off"):
        fetch_file(PackageFile("tinydata", "1.0", "x.csv", SHA))


def _capture_commands(monkeypatch) -> list[list[str]]:
    seen: list[list[str]] = []

    def fake_run(cmd, **kwargs):
        seen.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: no matching distribution")

    monkeypatch.setattr(pkg.subprocess, "run", fake_run)
    return seen


def test_wheels_only_no_retries_short_timeout(monkeypatch):
    seen = _capture_commands(monkeypatch)
    for pf in (
        PackageFile("tinydata", "1.0", "x.csv", SHA),
        PackageFile("sdistonly", "1.0", "x.csv", SHA, pip_args=("--no-binary=:all:",)),
    ):
        with pytest.raises(FetchError):
            fetch_file(pf)
    wheel, sdist = seen
    assert "--only-binary=:all:" in wheel and "--no-deps" in wheel
    assert wheel[wheel.index("--retries") + 1] == "0"
    assert int(wheel[wheel.index("--timeout") + 1]) <= 10
    assert "--only-binary=:all:" not in sdist and "--no-binary=:all:" in sdist


def test_missing_pip_is_named(monkeypatch):
    real = pkg.importlib.util.find_spec
    monkeypatch.setattr(
        pkg.importlib.util, "find_spec", lambda name: None if name == "pip" else real(name)
    )
    with pytest.raises(FetchError, match="pip is not installed"):
        fetch_file(PackageFile("tinydata", "1.0", "x.csv", SHA))


def _fetch_in_subprocess(args: tuple[str, str]) -> str:
    cache, links = args
    code = (
        "from leanml.core import PackageFile, fetch_file;"
        f"print(fetch_file(PackageFile('tinydata', '1.0', 'tinydata/data/table.csv', {SHA!r})))"
    )
    env = {
        **os.environ,
        "LEANML_CACHE": cache,
        "PIP_CONFIG_FILE": "/dev/null",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": links,
    }
    for var in ("PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_CONSTRAINT"):
        env.pop(var, None)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return proc.stdout.strip() if proc.returncode == 0 else "FAILED: " + proc.stderr[-300:]


def test_concurrent_fetches_of_one_file_all_succeed(tmp_path):
    """Six processes fetching the same file at once (4 of 6 failed with a fixed .part name)."""
    links = tmp_path / "links"
    links.mkdir()
    build_wheel(links)
    cache = tmp_path / "cache"
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(_fetch_in_subprocess, [(str(cache), str(links))] * 6))
    assert all(not r.startswith("FAILED") for r in results), results
    assert len(set(results)) == 1 and Path(results[0]).read_bytes() == PAYLOAD
    leftovers = [p for p in cache.rglob("*") if p.name.startswith(".") or p.suffix == ".part"]
    assert leftovers == []


def test_hashes_are_streamed(tmp_path, monkeypatch):
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * (3 * 2**20 + 5))

    def no_whole_reads(self, *args, **kwargs):
        raise AssertionError("read the whole file")

    monkeypatch.setattr(Path, "read_bytes", no_whole_reads)
    assert pkg.sha256_file(path) == hashlib.sha256(b"x" * (3 * 2**20 + 5)).hexdigest()


@pytest.mark.parametrize(
    ("builder", "kind", "member"),
    [
        (build_sdist, "pypi", "tinydata/data/table.csv"),
        (build_deb, "deb", "usr/share/tinydata/table.csv"),
        (partial(build_deb, compression="zst"), "deb", "usr/share/tinydata/table.csv"),
    ],
)
def test_sdist_and_deb_members_from_cache(tmp_path, builder, kind, member):
    version = {"pypi": "2.0", "deb": "3.0"}[kind]
    pf = PackageFile("tinydata", version, member, SHA, kind=kind)
    archive_dir = pkg._archive_dir(pf)
    archive_dir.mkdir(parents=True)
    builder(archive_dir)
    assert fetch_file(pf, download=False).read_bytes() == PAYLOAD
    bad = PackageFile("tinydata", version, member, "cd" * 32, kind=kind)
    with pytest.raises(ChecksumError):
        fetch_file(bad, download=False)
    with pytest.raises(DataError, match="no member"):
        pkg.read_member(next(archive_dir.iterdir()), "tinydata/missing.csv")


def test_installed_distribution_is_read_in_place(tmp_path, monkeypatch):
    site = tmp_path / "site"
    with zipfile.ZipFile(build_wheel(tmp_path, "tinyinst")) as zf:
        zf.extractall(site)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(sys, "path", [str(site), *sys.path])
    pf = PackageFile("tinyinst", "7.7", "tinyinst/data/table.csv", SHA)
    assert fetch_file(pf, download=False) == site / "tinyinst" / "data" / "table.csv"


def test_debian_packages_use_leanml_own_package_lists(monkeypatch):
    """A fresh machine has no apt lists: refresh leanml's own, never the system's."""
    monkeypatch.setattr(pkg.shutil, "which", lambda name: "/usr/bin/" + name)
    seen = _capture_commands(monkeypatch)
    with pytest.raises(FetchError, match=r"could not download tinydata==3\.0"):
        fetch_file(PackageFile("tinydata", "3.0", "usr/share/x.csv", SHA, kind="deb"))
    (update,) = seen
    lists = f"Dir::State::Lists={pkg.cache_dir() / 'apt-lists'}"
    assert update[0] == "apt-get" and update[-1] == "update" and lists in update
    (pkg.cache_dir() / "apt-lists" / "x_Packages").write_text("")
    seen.clear()
    with pytest.raises(FetchError):
        fetch_file(PackageFile("tinydata", "3.0", "usr/share/x.csv", SHA, kind="deb"))
    (download,) = seen
    assert download[-2:] == ["download", "tinydata=3.0"] and lists in download
