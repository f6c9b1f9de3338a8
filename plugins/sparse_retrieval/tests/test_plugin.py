"""Registration (lazy), the Fashion-MNIST reader, class splits, the CLI and the demo."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from leanml.core import DataError, Dataset, InputError, get_plugins, load_dataset
from leanml.core.cli import cli
from leanml.sparse_retrieval.datasets import FASHION_MNIST_FILES, held_out_split, read_idx


def test_plugin_module_imports_nothing_heavy():
    code = (
        "import sys, leanml.sparse_retrieval.plugin, leanml.sparse_retrieval as s; "
        "s.__version__; "
        "print(sorted(m for m in ('torch', 'numba', 'faiss', 'sklearn', 'sparse_dot_topn') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_everything_registered():
    plugins = get_plugins()
    for model in ("sparse-flops", "sparse-l1", "dense-flat", "dense-ivfpq", "dense-hnsw",
                  "dense-pca", "sparse-flops-scipy", "sparse-flops-sdtopn"):  # fmt: skip
        spec = plugins.models.get(model)
        assert spec.plugin == "sparse_retrieval"
        assert spec.factory == "leanml.sparse_retrieval.estimators:SparseRetriever"
    assert plugins.datasets.get("fashion_mnist").files == FASHION_MNIST_FILES
    assert plugins.metrics.get("label_recall_at_10").needs == "scores"


def _idx_bytes(arr: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, arr.ndim]) + np.array(arr.shape, ">u4").tobytes()
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def test_read_idx_round_trip_and_errors():
    img = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    assert np.array_equal(read_idx(_idx_bytes(img, 0x08)), img)
    assert np.array_equal(read_idx(gzip.compress(_idx_bytes(img, 0x08))), img)
    f = np.array([1.5, -2.0], dtype=np.float32)
    assert np.array_equal(read_idx(_idx_bytes(f, 0x0D)), f)
    with pytest.raises(DataError, match="magic"):
        read_idx(b"\x01\x00\x08\x01")
    with pytest.raises(DataError, match="bytes"):
        read_idx(_idx_bytes(img, 0x08)[:-1])


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get (Debian package)")
def test_fashion_mnist_from_the_debian_package():
    data = load_dataset("fashion_mnist", n_train=500, n_test=200)
    assert data.X_train.shape == (500, 784) and data.X_test.shape == (200, 784)
    assert data.X_train.max() == 255 and set(np.unique(data.y_train)) <= set(range(10))
    assert "Debian" in data.source and "MIT" in data.licence


def test_held_out_split():
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.repeat(np.arange(5), 4)
    data = Dataset("toy", X[::2], y[::2], X[1::2], y[1::2])
    seen, unseen = held_out_split(data, [3, 4])
    assert set(seen.y_train) == {0, 1, 2} and set(unseen.y_test) == {3, 4}
    assert seen.n_train + unseen.n_train == data.n_train
    with pytest.raises(InputError):
        held_out_split(data, [])
    with pytest.raises(InputError):
        held_out_split(data, [0, 1, 2, 3, 4])


def test_cli_train_index_search_and_curve(tmp_path):
    # no --threads here: in-process, the core's set_threads rewrites NUMBA_NUM_THREADS after
    # Numba's pool has started, and the next compilation then fails (reported to the lead)
    runner = CliRunner()
    model = tmp_path / "m"
    args = ["sparse-retrieval", "train", "-d", "digits", "--out", str(model)]
    res = runner.invoke(cli, [*args, "--epochs", "2", "--batch-size", "128"])
    assert res.exit_code == 0, res.output
    assert json.loads((model / "history.json").read_text())[-1]["epoch"] == 2
    res = runner.invoke(cli, ["sparse-retrieval", "index", "--model", str(model), "-d", "digits",
                              "--out", str(tmp_path / "idx.npz")])  # fmt: skip
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["sparse-retrieval", "search", "--model", str(model), "--index",
                              str(tmp_path / "idx.npz"), "-d", "digits", "-k", "5"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "recall@5" in res.output
    res = runner.invoke(cli, ["sparse-retrieval", "search", "--model", str(model), "--index",
                              str(tmp_path / "idx.npz"), "-d", "digits", "-k", "5000"])  # fmt: skip
    assert res.exit_code == 2 and "exceeds" in res.output
    res = runner.invoke(cli, ["sparse-retrieval", "curve", "-d", "digits",
                              "--epochs", "1", "--batch-size", "128", "--n-queries", "50",
                              "--out", str(tmp_path / "c")])  # fmt: skip
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "c" / "curve-digits-t1.json").read_text())
    methods = {(r["method"], r["index"]) for r in record["rows"]}
    assert {("flops", "sparse"), ("l1", "sparse"), ("dense", "faiss-flat"),
            ("dense", "faiss-ivfpq"), ("dense", "faiss-hnsw")} <= methods  # fmt: skip


def test_saved_model_reloads_to_identical_embeddings(tmp_path):
    from leanml.sparse_retrieval import SparseRetriever

    data = load_dataset("digits")
    m = SparseRetriever(epochs=1, batch_size=128).fit(data.X_train[:300], data.y_train[:300])
    back = SparseRetriever.load(m.save(tmp_path / "m"))
    np.testing.assert_array_equal(m.transform(data.X_test), back.transform(data.X_test))
    with pytest.raises(DataError):
        SparseRetriever.load(tmp_path)
