"""The allow-list unpickler for pickles shipped inside packages."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from leanml.core import DataError
from leanml.core.pickles import NUMPY_GLOBALS, restricted_loads


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_numpy_arrays_load_and_code_does_not_run():
    data = {"x": np.arange(6.0).reshape(2, 3), "labels": [np.int64(3)], "name": "ok"}
    out = restricted_loads(pickle.dumps(data, protocol=2), NUMPY_GLOBALS)
    np.testing.assert_array_equal(out["x"], data["x"])
    assert out["labels"][0] == 3 and out["name"] == "ok"
    with pytest.raises(DataError, match=r"'posix\.system' is not on the allow-list"):
        restricted_loads(pickle.dumps(_Exploit()), NUMPY_GLOBALS, source="evil.pkl")


class Bunch(dict):
    """Stands in for scikit-learn's old ``Bunch`` (a dict subclass) in a legacy pickle."""


def test_legacy_globals_are_mapped_by_the_caller():
    here = f"{__name__}\nBunch".encode()
    blob = pickle.dumps(Bunch(data=[1, 2]), protocol=2)
    assert here in blob
    blob = blob.replace(here, b"sklearn.datasets.base\nBunch")
    with pytest.raises(DataError, match=r"'sklearn\.datasets\.base\.Bunch' is not on"):
        restricted_loads(blob, {})
    out = restricted_loads(blob, {"sklearn.datasets.base.Bunch": dict})
    assert type(out) is dict and out == {"data": [1, 2]}


def test_garbage_is_a_data_error():
    with pytest.raises(DataError, match="cannot unpickle safely"):
        restricted_loads(b"not a pickle", NUMPY_GLOBALS)
