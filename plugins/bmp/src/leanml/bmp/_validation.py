"""Checks at the boundary: tensors and hyperparameters."""

from __future__ import annotations

from typing import Any

import numpy as np

from leanml.core import InputError, ParameterError

__all__ = ["as_tensor", "check_y", "positive", "positive_int"]


def as_tensor(X: Any, name: str = "X", min_ndim: int = 2) -> np.ndarray:
    """``X`` as a C-contiguous float64 array with at least ``min_ndim`` dimensions.

    Integer input (e.g. uint16 hyperspectral counts) is cast to float64 before any
    arithmetic, so squares cannot overflow; complex, object, NaN and inf are refused.
    """
    if hasattr(X, "toarray") and not isinstance(X, np.ndarray):
        raise InputError(f"{name} is sparse; pass a dense array (X.toarray())")
    arr = np.asarray(X)
    if np.iscomplexobj(arr):
        raise InputError(f"{name} is complex; binary latent features need real data")
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise InputError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.ndim < min_ndim:
        raise InputError(
            f"{name} must have at least {min_ndim} dimensions (rows x features...), "
            f"got shape {arr.shape}"
        )
    if arr.size == 0:
        raise InputError(f"{name} is empty (shape {arr.shape})")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError(
            f"{name} contains NaN or inf; missing entries are not supported (impute or drop)"
        )
    return arr


def positive(name: str, value: Any) -> float:
    """``value`` as a float > 0, else :class:`ParameterError`."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a positive number, got {value!r}") from None
    if not (np.isfinite(v) and v > 0):
        raise ParameterError(f"{name} must be a positive number, got {value!r}")
    return v


def positive_int(name: str, value: Any) -> int:
    """``value`` as an int >= 1, else :class:`ParameterError`."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ParameterError(f"{name} must be an integer >= 1, got {value!r}")
    return int(value)


def check_y(X: np.ndarray, y: Any) -> None:
    """``y`` is ignored by the decompositions, but one of another length is a caller's bug."""
    if y is not None and len(y) != X.shape[0]:
        raise InputError(f"X has {X.shape[0]} rows but y has {len(y)}")
