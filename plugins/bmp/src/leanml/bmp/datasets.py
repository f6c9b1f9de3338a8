"""Loaders: Indian Pines (from the TensorLy wheel, read with NumPy), digits as a
1797 x 8 x 8 tensor, and the seeded planted-code generator.

Every registered data set is a reconstruction ("tensor") task: rows of the coded mode are
split into train and test, and the target ``y`` of a split is its own ``X`` (a model is
scored on how well it reconstructs held-out rows through their codes).
"""

from __future__ import annotations

import gzip

import numpy as np

from leanml.core import Dataset, InputError, fetch_file
from leanml.core.builtin import SHARED_FILES

from .files import INDIAN_PINES, INDIAN_PINES_GT, INDIAN_PINES_LICENCE
from .synthetic import planted_dataset

__all__ = [
    "digits_tensor",
    "indian_pines_cube",
    "load_digits_tensor",
    "load_indian_pines",
    "load_planted",
]


def indian_pines_cube(crop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The Indian Pines cube (H x W x 200, float64) and its ground truth (H x W, int).

    Parameters
    ----------
    crop
        Keep the top-left ``crop`` x ``crop`` pixels (``None``: all 145 x 145).
    """
    cube = np.load(fetch_file(INDIAN_PINES), allow_pickle=False).astype(np.float64)
    gt = np.load(fetch_file(INDIAN_PINES_GT), allow_pickle=False).astype(np.int64)
    if crop is not None:
        if not 1 <= crop <= cube.shape[0]:
            raise InputError(f"crop must be in 1..{cube.shape[0]}, got {crop}")
        cube, gt = cube[:crop, :crop], gt[:crop, :crop]
    return np.ascontiguousarray(cube), gt


def digits_tensor() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits as a 1797 x 8 x 8 float64 tensor (0-16) and the labels."""
    raw = gzip.decompress(fetch_file(SHARED_FILES["digits"]).read_bytes()).decode()
    data = np.loadtxt(raw.splitlines(), delimiter=",")
    return data[:, :64].reshape(-1, 8, 8), data[:, 64].astype(np.int64)


def _dataset(name: str, X: np.ndarray, test_size: float, seed: int, **fields) -> Dataset:
    return Dataset.from_arrays(
        name, X, X, test_size=test_size, seed=seed, stratify=False, task="tensor", **fields
    )


def load_indian_pines(test_size: float = 0.25, seed: int = 0, crop: int | None = None) -> Dataset:
    """Indian Pines as a pixels x bands matrix (21,025 x 200), rows split train/test."""
    cube, _gt = indian_pines_cube(crop)
    H, W, B = cube.shape
    return _dataset(
        "indian-pines",
        cube.reshape(H * W, B),
        test_size,
        seed,
        source=str(INDIAN_PINES),
        licence=INDIAN_PINES_LICENCE,
        description="AVIRIS Indian Pines hyperspectral image, pixels x 200 bands",
        metadata={"image_shape": (H, W)},
    )


def load_digits_tensor(test_size: float = 0.25, seed: int = 0) -> Dataset:
    """Digits as a 1797 x 8 x 8 tensor, images split train/test."""
    X, _ = digits_tensor()
    return _dataset(
        "digits-tensor",
        X,
        test_size,
        seed,
        source=str(SHARED_FILES["digits"]),
        licence="BSD-3-Clause (scikit-learn); data: UCI, CC BY 4.0",
        description="8x8 handwritten digits as a tensor",
    )


def load_planted(test_size: float = 0.25, seed: int = 0) -> Dataset:
    """Synthetic 400 x 12 x 12 tensor with 5 planted binary codes (density 0.3, noise 0.05,
    positive disjoint features, offset 1)."""
    X = planted_dataset(seed)
    return _dataset(
        "bmp-planted",
        X,
        test_size,
        seed,
        source="leanml.bmp.synthetic.planted_dataset(seed)",
        licence="generated",
        description="planted binary codes with disjoint 12x12 features",
        metadata={"n_atoms": 5},
    )
