"""WME on Dask: fitted models travel to workers without their embedding table.

A fitted ``WordMoversEmbedding``, ``WMEClassifier`` or ``KNNWMD`` holds its word vectors
(``embeddings_``: 84 MiB for GloVe 6B 50-d). ``leanml.core.dask`` calls
:func:`prepare_for_workers` before it scatters a model: when the embeddings were given by a
registered name (``"glove-6b-50d"``, ``"synonym-shift"``), the table is replaced by a
reference that pickles as ``(name, SHA-256 of the table)``. Each worker process resolves the
reference once, through the same registered loader (GloVe reads the checksum-verified
files of the core's package cache), checks the SHA-256 against the client's and keeps the
table for every later model and task. Embeddings given as arrays or files have no name to
load by: they travel with the model, once per worker (``broadcast``), never per task.

Everything here uses the plugin's public objects only (``Embeddings``,
``NAMED_EMBEDDINGS``, the estimators' fitted attributes).
"""

from __future__ import annotations

import copy
import hashlib
import weakref
from typing import Any

import numpy as np

from leanml.core import ChecksumError

from .embeddings import NAMED_EMBEDDINGS, Embeddings

__all__ = ["fingerprint", "load_named", "prepare_for_workers"]

#: name -> table, per process: a worker loads each named table once.
_LOADED: dict[str, Embeddings] = {}
#: id(vectors) -> (weak reference to the vectors, digest): hashing 84 MiB once per table.
_DIGESTS: dict[int, tuple[weakref.ref, str]] = {}


def fingerprint(emb: Embeddings) -> str:
    """SHA-256 of the vectors (dtype, shape, bytes) and the vocabulary; memoised per table."""
    known = _DIGESTS.get(id(emb.vectors))
    if known is not None and known[0]() is emb.vectors:
        return known[1]
    V = np.ascontiguousarray(emb.vectors)
    h = hashlib.sha256(f"{V.dtype.str}{V.shape}".encode())
    h.update(memoryview(V).cast("B"))
    h.update("\n".join(emb.vocab).encode())
    digest = h.hexdigest()
    _DIGESTS[id(emb.vectors)] = (weakref.ref(emb.vectors), digest)
    return digest


def load_named(name: str, digest: str) -> Embeddings:
    """The registered table ``name`` of this process (loaded on first use), checked.

    Raises
    ------
    ChecksumError
        This process's table differs from the one the model was fitted with (another
        package version on the worker).
    """
    emb = _LOADED.get(name)
    if emb is None:
        from . import datasets  # noqa: F401  (registers the named loaders on import)

        emb = NAMED_EMBEDDINGS[name]()
    found = fingerprint(emb)
    if found != digest:
        raise ChecksumError(
            f"embeddings {name!r} on this worker have SHA-256 {found[:12]}..., the model was "
            f"fitted with {digest[:12]}...; install the same leanml-wme and data on every worker"
        )
    _LOADED[name] = emb
    return emb


class _ByName(Embeddings):
    """The same table (shared arrays), pickled as a reference ``(name, digest)``."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (load_named, (self.name, fingerprint(self)))


def _by_name(emb: Embeddings, name: str) -> Embeddings:
    ref = _ByName.__new__(_ByName)
    ref.__dict__.update(emb.__dict__)
    ref.name = name
    return ref


def prepare_for_workers(estimator: Any) -> Any:
    """A shallow copy of ``estimator`` whose named embedding table pickles as a reference.

    Works for ``WordMoversEmbedding`` and ``KNNWMD`` (``embeddings_``) and ``WMEClassifier``
    (``wme_.embeddings_``); anything else, or embeddings without a registered name, is
    returned unchanged. The original estimator is not modified.
    """
    name = getattr(estimator, "embeddings", None)
    table = getattr(estimator, "embeddings_", None)
    inner = getattr(estimator, "wme_", None)
    if inner is not None:
        light_inner = prepare_for_workers(inner)
        if light_inner is inner:
            return estimator
        out = copy.copy(estimator)
        out.wme_ = light_inner
        return out
    named = isinstance(name, str) and name in NAMED_EMBEDDINGS
    if not (named and isinstance(table, Embeddings)) or isinstance(table, _ByName):
        return estimator
    out = copy.copy(estimator)
    out.embeddings_ = _by_name(table, name)
    return out
