"""Fashion-MNIST from Debian's ``dataset-fashion-mnist`` package, and class splits.

The ``.deb`` ships the four IDX files of Zalando's release (MIT/Expat licence) under
``usr/share/datasets/fashion-mnist/``; they are read through the core's package-file
source (installed copy, else ``$LEANML_CACHE``, else ``apt-get download``), checksums
verified. This module imports only numpy and leanml.core.
"""

from __future__ import annotations

import gzip
from typing import Any

import numpy as np

from leanml.core import DataError, Dataset, InputError, PackageFile, fetch_file

__all__ = ["FASHION_MNIST_FILES", "held_out_split", "load_fashion_mnist", "read_idx"]

_DEB = ("dataset-fashion-mnist", "0.0~git20200523.55506a9-1")
_DIR = "usr/share/datasets/fashion-mnist/"
_SHA = {
    "train-images-idx3-ubyte.gz": (
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"
    ),
    "train-labels-idx1-ubyte.gz": (
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"
    ),
    "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
}
#: The four files of the Debian package, in the order train images, train labels, test
#: images, test labels.
FASHION_MNIST_FILES = tuple(
    PackageFile(*_DEB, _DIR + name, sha, kind="deb") for name, sha in _SHA.items()
)
FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip


def read_idx(data: bytes) -> np.ndarray:
    """Decode an IDX file (optionally gzipped): big-endian magic ``0 0 dtype ndim``,
    ``ndim`` uint32 sizes, then the values."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError("not an IDX file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in dtypes:
        raise DataError(f"unknown IDX element type 0x{data[2]:02x}")
    ndim = data[3]
    shape = tuple(int(v) for v in np.frombuffer(data, ">u4", ndim, 4))
    dtype = np.dtype(dtypes[data[2]])
    need = int(np.prod(shape)) * dtype.itemsize
    body = data[4 + 4 * ndim :]
    if len(body) != need:
        raise DataError(f"IDX body has {len(body)} bytes, expected {need} for shape {shape}")
    return np.frombuffer(body, dtype).reshape(shape).astype(dtype.newbyteorder("="))


def load_fashion_mnist(n_train: int | None = None, n_test: int | None = None, seed: int = 0,
                       **_: Any) -> Dataset:  # fmt: skip
    """Fashion-MNIST: 60,000 train / 10,000 test 28x28 images as 784 raw pixels (0-255).

    Parameters
    ----------
    n_train, n_test
        Seeded random subsets of the official splits (``None`` keeps all rows).
    seed
        Seed of the subsets.
    """
    arrays = [read_idx(fetch_file(pf).read_bytes()) for pf in FASHION_MNIST_FILES]
    X_tr, y_tr, X_te, y_te = arrays
    data = Dataset(
        name="fashion_mnist",
        X_train=X_tr.reshape(len(X_tr), -1).astype(np.float32),
        y_train=y_tr.astype(np.int64),
        X_test=X_te.reshape(len(X_te), -1).astype(np.float32),
        y_test=y_te.astype(np.int64),
        task="classification",
        source=f"Debian {_DEB[0]}={_DEB[1]}:{_DIR}",
        licence="MIT (Expat), Zalando SE 2017",
        description="Zalando Fashion-MNIST, official train/test split",
        target_names=FASHION_MNIST_CLASSES,
    )
    return data.subset(n_train, n_test, seed=seed)


def held_out_split(data: Dataset, held_out: tuple[int, ...] | list[int]) -> tuple[Dataset, Dataset]:
    """Split a labelled data set by class: ``(seen, unseen)``.

    ``seen`` keeps the other classes (train the embedding on its train split);
    ``unseen`` keeps the ``held_out`` classes: index its train split, query with its test
    split, so retrieval is measured on classes the network never saw.
    """
    held = np.asarray(list(held_out))
    if held.size == 0:
        raise InputError("held_out must name at least one class")

    def part(keep_held: bool) -> Dataset:
        mtr = np.isin(data.y_train, held) == keep_held
        mte = np.isin(data.y_test, held) == keep_held
        if not mtr.any() or not mte.any():
            raise InputError(f"class split {sorted(held.tolist())} leaves an empty split")
        return Dataset(
            name=f"{data.name}-{'unseen' if keep_held else 'seen'}",
            X_train=data.X_train[mtr],
            y_train=np.asarray(data.y_train)[mtr],
            X_test=data.X_test[mte],
            y_test=np.asarray(data.y_test)[mte],
            task=data.task,
            source=data.source,
            licence=data.licence,
        )

    return part(False), part(True)
