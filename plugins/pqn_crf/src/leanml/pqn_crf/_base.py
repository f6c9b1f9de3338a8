"""Shared estimator plumbing: parameters, solver dispatch, thread control."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from leanml.core import ParameterError

from .solvers import SolverResult, fista, owlqn, prox_qn

__all__ = ["SOLVERS", "ParamsMixin", "run_solver", "threads"]

#: Solver names accepted by the estimators' ``solver`` argument.
SOLVERS = ("prox-qn", "owl-qn", "fista", "ista")


class ParamsMixin:
    """scikit-learn's ``get_params``/``set_params`` from the constructor signature."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments as a dict."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> ParamsMixin:
        """Set constructor arguments; unknown names raise :class:`ParameterError`."""
        names = self._param_names()
        for key, value in params.items():
            if key not in names:
                raise ParameterError(f"{type(self).__name__} has no parameter {key!r}")
            setattr(self, key, value)
        return self

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (imported here: scikit-learn is only needed by its tools).

        Estimators with a ``predict_proba`` are classifiers (stratified splits, accuracy);
        the others (the sequence CRF, whose ``y`` is a list of sequences) are plain
        estimators with a required target, so its tools split them with ``KFold``.
        """
        from sklearn.utils import ClassifierTags, Tags, TargetTags

        if hasattr(type(self), "predict_proba"):
            return Tags(
                estimator_type="classifier",
                target_tags=TargetTags(required=True),
                classifier_tags=ClassifierTags(),
            )
        return Tags(estimator_type=None, target_tags=TargetTags(required=True))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


@contextmanager
def threads(n: int | None, single_blas: bool = False) -> Iterator[None]:
    """Run Numba kernels on ``n`` threads inside the block (None: leave as is).

    ``single_blas`` also limits BLAS to one thread: CRF training does no large BLAS work,
    and idle OpenBLAS workers spin on the cores Numba's threads need (measured: the
    solver's small L-BFGS products took 10 ms instead of 0.6 ms, and every Numba kernel
    slowed down with them).
    """
    if n is not None and n < 1:
        raise ParameterError(f"n_threads must be >= 1, got {n}")
    before = numba.get_num_threads()
    if n is not None:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    limits = threadpool_limits(limits=1, user_api="blas") if single_blas else nullcontext()
    try:
        with limits:
            yield
    finally:
        numba.set_num_threads(before)


def run_solver(
    name: str,
    fun: Callable[..., tuple[float, np.ndarray]],
    n_params: int,
    lam: float,
    *,
    m: int,
    tol: float,
    max_iter: int,
    delta: float = 0.0,
    period: int = 10,
    tol_scale: float | None = None,
    max_evals: int | None,
    shrinking: bool,
    inner_passes: Any,
    seed: int,
    partial: bool = False,
    w0: np.ndarray | None = None,
    callback: Any = None,
) -> SolverResult:
    """Dispatch to one of :data:`SOLVERS` with the estimators' common settings."""
    if not np.isfinite(lam) or lam < 0:
        raise ParameterError(f"the L1 weight must be finite and >= 0, got {lam}")
    w_init = np.zeros(n_params) if w0 is None else w0
    common = {"tol": tol, "max_iter": max_iter, "max_evals": max_evals, "callback": callback}
    stop = {"delta": delta, "period": period, "tol_scale": tol_scale}
    if name == "prox-qn":
        return prox_qn(
            fun,
            w_init,
            lam,
            m=m,
            **stop,
            shrinking=shrinking,
            inner_passes=inner_passes,
            seed=seed,
            partial=partial,
            **common,
        )
    if name == "owl-qn":
        return owlqn(fun, w_init, lam, m=m, **stop, **common)
    if name in ("fista", "ista"):
        return fista(fun, w_init, lam, accelerate=name == "fista", **common)
    raise ParameterError(f"unknown solver {name!r}; choose one of {', '.join(SOLVERS)}")
