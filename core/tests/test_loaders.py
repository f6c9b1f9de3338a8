from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import dump_svmlight_file, load_svmlight_file

from leanml.core import DataError
from leanml.core.loaders import (
    dataset_from_file,
    load_conll,
    load_csv,
    load_svmlight,
    load_text_lines,
)


def test_svmlight_matches_sklearn(tmp_path):
    rng = np.random.default_rng(0)
    X = sp.random(30, 12, density=0.3, format="csr", random_state=1)
    y = rng.integers(-1, 2, 30) * 2 + 1
    path = tmp_path / "a.svm"
    dump_svmlight_file(X, y, str(path), zero_based=False)
    ours_X, ours_y = load_svmlight(path, n_features=12)
    ref_X, ref_y = load_svmlight_file(str(path), n_features=12, zero_based=False)
    assert np.array_equal(ours_y, ref_y)
    assert np.allclose(ours_X.toarray(), ref_X.toarray())


@pytest.mark.parametrize(
    ("text", "line", "msg"),
    [
        ("1 1:0.5\n-1 2:x\n", 2, "expected index:value"),
        ("1 1:0.5\nabc 1:1\n", 2, "not a number"),
        ("1 3:1 2:1\n", 1, "increasing"),
    ],
)
def test_svmlight_errors_name_file_and_line(tmp_path, text, line, msg):
    path = tmp_path / "bad.svm"
    path.write_text(text)
    with pytest.raises(DataError, match=rf"bad\.svm:{line}: .*{msg}"):
        load_svmlight(path)


def test_csv_header_target_and_errors(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("a,b,label\n1,2,x\n3,4,y\n")
    X, y, names = load_csv(path, target="label")
    assert X.tolist() == [[1, 2], [3, 4]] and y.tolist() == ["x", "y"] and names == ["a", "b"]
    path.write_text("a,b,label\n1,2,0\n3,oops,1\n")
    with pytest.raises(DataError, match=r"d\.csv:3: non-numeric value 'oops'"):
        load_csv(path)
    path.write_text("1,2,0\n3,1\n")
    with pytest.raises(DataError, match=r"d\.csv:2: expected 3 fields, got 2"):
        load_csv(path)


def test_text_lines_and_conll(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_text("pos\tgood film\nneg\tbad film\n")
    texts, labels = load_text_lines(path)
    assert texts == ["good film", "bad film"] and labels.tolist() == ["pos", "neg"]
    path.write_text("pos\tgood\nno tab here\n")
    with pytest.raises(DataError, match=r"t\.tsv:2:"):
        load_text_lines(path)
    conll = tmp_path / "c.conll"
    conll.write_text("-DOCSTART- O\n\nEU B-ORG\nrejects O\n\nPeter B-PER\n")
    assert load_conll(conll) == [[["EU", "B-ORG"], ["rejects", "O"]], [["Peter", "B-PER"]]]
    conll.write_text("EU NNP B-ORG\nrejects O\n")
    with pytest.raises(DataError, match=r"c\.conll:2: expected 3 columns, got 2"):
        load_conll(conll)
    # ragged rows (MeCab-style feature columns that vary per token), label last
    conll.write_text("EU\tNNP\tB-ORG\nrejects\tO\n\nPeter\tNNP\tx\tB-PER\n")
    assert load_conll(conll, separator="\t", ragged=True) == [
        [["EU", "NNP", "B-ORG"], ["rejects", "O"]],
        [["Peter", "NNP", "x", "B-PER"]],
    ]
    conll.write_text("EU\tB-ORG\nlonely\n")
    with pytest.raises(DataError, match=r"c\.conll:2: expected a token and a label"):
        load_conll(conll, separator="\t", ragged=True)


def test_dataset_from_file_formats(tmp_path):
    csv = tmp_path / "r.csv"
    csv.write_text("\n".join(f"{i},{i * 0.5},{i * 0.25 + 0.1}" for i in range(20)))
    d = dataset_from_file(csv)
    assert d.task == "regression" and d.n_train + d.n_test == 20
    conll = tmp_path / "s.conll"
    conll.write_text("\n\n".join("a X\nb Y" for _ in range(8)))
    seq = dataset_from_file(conll)
    assert seq.task == "sequence_labeling" and seq.y_train[0] == ["X", "Y"]
    with pytest.raises(DataError, match="no such file"):
        dataset_from_file(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="unknown file format"):
        dataset_from_file(tmp_path / "x.parquet")
