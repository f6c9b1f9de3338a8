"""Log-linear classifiers on the same solvers: hierarchical (taxonomy) CRF, L1 logistic.

Hierarchical classification CRF (the paper's second application): every node v of a label
tree except the root has a weight vector w_v; a leaf's score is the sum of the node scores
along its root-to-leaf path, and P(leaf | x) is a softmax over the leaves. With the path
matrix P (leaves x nodes): leaf scores = (X Wᵀ) Pᵀ, node marginals = p(leaf | x) P, and
the gradient of the summed NLL is (node marginals - observed path indicators)ᵀ X.

The flat multinomial model is the special case P = I; binary L1 logistic regression uses
one weight vector (LIBLINEAR's model, so the two agree exactly).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.special import log_expit, logsumexp

from leanml.core import InputError, ParameterError

from ._base import SOLVERS, ParamsMixin, run_solver, threads
from .solvers import SolverResult

__all__ = [
    "BinaryLogisticObjective",
    "HierarchicalClassifier",
    "L1LogisticRegression",
    "LeafSoftmaxObjective",
    "Taxonomy",
]


def _as_matrix(X: Any, bias: bool) -> sp.csr_matrix | np.ndarray:
    if sp.issparse(X):
        M = sp.csr_matrix(X, dtype=np.float64)
        if not np.all(np.isfinite(M.data)):
            raise InputError("X contains NaN or infinite values")
        if bias:
            M = sp.hstack([M, np.ones((M.shape[0], 1))], format="csr")
        return M
    A = np.asarray(X, dtype=np.float64)
    if A.ndim != 2:
        raise InputError(f"X must be 2-D, got shape {A.shape}")
    if A.shape[0] == 0:
        raise InputError("X has no rows")
    if not np.all(np.isfinite(A)):
        raise InputError("X contains NaN or infinite values")
    return np.hstack([A, np.ones((A.shape[0], 1))]) if bias else A


class Taxonomy:
    """A label tree from a ``{node: parent}`` map (roots have parent ``None``).

    Leaves (nodes that are nobody's parent) are the class labels. A forest is allowed:
    its roots are ordinary nodes with weights (an implicit root above them has none,
    since a node shared by every leaf cancels in the softmax).

    Attributes
    ----------
    nodes : list of nodes in weight-row order; leaves : sorted leaves (the classes).
    path : (n_leaves, n_nodes) 0/1 matrix, path[l, v] = 1 when v is on leaf l's path.
    """

    def __init__(self, parents: Mapping[Hashable, Hashable | None]) -> None:
        parents = dict(parents)
        for child, parent in parents.items():
            if parent is not None and parent not in parents:
                raise InputError(f"parent {parent!r} of {child!r} is not a node of the tree")
        inner = {p for p in parents.values() if p is not None}
        self.leaves = np.array(sorted(n for n in parents if n not in inner))
        self.nodes = list(parents)
        index = {n: i for i, n in enumerate(self.nodes)}
        self.path = np.zeros((self.leaves.size, len(self.nodes)))
        for li, leaf in enumerate(self.leaves.tolist()):
            node, seen = leaf, set()
            while node is not None:
                if node in seen:
                    raise InputError(f"the taxonomy has a cycle through {node!r}")
                seen.add(node)
                self.path[li, index[node]] = 1.0
                node = parents[node]

    @classmethod
    def flat(cls, labels: Any) -> Taxonomy:
        """Every label a leaf directly under the (weightless) root: multinomial regression."""
        return cls({lab: None for lab in np.unique(np.asarray(labels)).tolist()})


class LeafSoftmaxObjective:
    """Summed NLL of a softmax over leaves with path-summed node scores; ``obj(w)``.

    ``w`` is W (n_nodes x n_features) raveled; ``c2`` adds c2*||w||².
    """

    def __init__(self, X: Any, y_leaf: np.ndarray, path: np.ndarray, c2: float = 0.0) -> None:
        self.X = X
        self.path = path
        self.y = np.asarray(y_leaf, dtype=np.int64)
        self.c2 = float(c2)
        self.n_nodes = path.shape[1]
        self.n_features = X.shape[1]
        self.n_params = self.n_nodes * self.n_features
        self.observed = path[self.y]  # (n, n_nodes) indicators of nodes on the true path

    def leaf_log_proba(self, w: np.ndarray) -> np.ndarray:
        """log p(leaf | x) for every row (n x n_leaves)."""
        W = w.reshape(self.n_nodes, self.n_features)
        leaf = np.asarray(self.X @ W.T) @ self.path.T
        return leaf - logsumexp(leaf, axis=1, keepdims=True)

    def __call__(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        logp = self.leaf_log_proba(w)
        nll = -float(logp[np.arange(self.y.size), self.y].sum())
        residual = np.exp(logp) @ self.path - self.observed  # (n, n_nodes)
        g = np.asarray(self.X.T @ residual).T.ravel()
        if self.c2 > 0:
            nll += self.c2 * float(w @ w)
            g = g + 2.0 * self.c2 * w
        return nll, g


class BinaryLogisticObjective:
    """sum_i log(1 + exp(-y_i wᵀx_i)) with y in {-1, +1} (LIBLINEAR's L1-LR loss)."""

    def __init__(self, X: Any, y_pm: np.ndarray) -> None:
        self.X = X
        self.y = np.asarray(y_pm, dtype=np.float64)
        self.n_params = X.shape[1]

    def __call__(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        z = self.y * np.asarray(self.X @ w).ravel()
        loss = -float(log_expit(z).sum())
        coef = -self.y * np.exp(log_expit(-z))  # -y * sigmoid(-z)
        return loss, np.asarray(self.X.T @ coef).ravel()


class _LinearBase(ParamsMixin):
    def _fit_solver(self, objective: Any) -> SolverResult:
        if not np.isfinite(self.lam) or self.lam < 0:
            raise ParameterError(f"lam must be finite and >= 0, got {self.lam}")
        if self.solver not in SOLVERS:
            raise ParameterError(f"unknown solver {self.solver!r}; choose one of {SOLVERS}")
        # one BLAS thread: the solver's products are matrix-vector sized, and idle OpenBLAS
        # workers spin on busy cores (digits test: 39 s instead of 4 s at load average 13)
        with threads(self.n_threads, single_blas=True):
            return run_solver(
                self.solver,
                objective,
                objective.n_params,
                float(self.lam),
                m=self.m,
                tol=self.tol,
                max_iter=self.max_iter,
                max_evals=None,
                shrinking=self.shrinking,
                inner_passes=None,
                seed=self.random_state,
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise InputError(f"this {type(self).__name__} is not fitted yet; call fit first")

    def score(self, X: Any, y: Any) -> float:
        """Accuracy."""
        return float(np.mean(self.predict(X) == np.asarray(y)))


def _encode_labels(y: Any, classes: np.ndarray, n_rows: int) -> np.ndarray:
    y = np.asarray(y)
    if y.shape != (n_rows,):
        raise InputError(f"X has {n_rows} rows but y has shape {y.shape}")
    idx = np.minimum(np.searchsorted(classes, y), classes.size - 1)
    bad = classes[idx] != y
    if bad.any():
        raise InputError(f"label {y[bad][0]!r} is not a leaf of the taxonomy")
    return idx


class HierarchicalClassifier(_LinearBase):
    """Taxonomy CRF: node weights summed along root-to-leaf paths, softmax over leaves.

    Parameters
    ----------
    taxonomy : ``{node: parent}`` map (roots map to ``None``); its leaves are the classes.
        ``None`` gives the flat multinomial model over the labels seen in ``fit``;
        ``"digits"`` the shipped tree of the ``digits-tree`` data set (for the CLI:
        ``leanml run pqn-hier -d digits-tree -p taxonomy=digits``).
    lam : L1 weight λ on the summed loss; c2 : L2 coefficient (c2*||w||²).
    fit_intercept : append a constant feature (its weights are penalised like the others).
    solver, m, tol, max_iter, shrinking, n_threads, random_state : as for :class:`CRF`.

    Attributes
    ----------
    classes_ : leaves; nodes_ : node order of the rows of ``coef_`` (n_nodes x n_features).
    """

    def __init__(
        self,
        taxonomy: Mapping[Hashable, Hashable | None] | str | None = None,
        lam: float = 1.0,
        c2: float = 0.0,
        fit_intercept: bool = True,
        solver: str = "prox-qn",
        m: int = 10,
        tol: float = 1e-6,
        max_iter: int = 1000,
        shrinking: bool = True,
        n_threads: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.taxonomy = taxonomy
        self.lam = lam
        self.c2 = c2
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.m = m
        self.tol = tol
        self.max_iter = max_iter
        self.shrinking = shrinking
        self.n_threads = n_threads
        self.random_state = random_state

    def _objective(self, X: Any, y: Any) -> LeafSoftmaxObjective:
        if self.taxonomy is None:
            tax = Taxonomy.flat(y)
        elif isinstance(self.taxonomy, str):
            from .datasets import digits_taxonomy

            if self.taxonomy != "digits":
                raise ParameterError(f"unknown taxonomy name {self.taxonomy!r}; use 'digits'")
            tax = Taxonomy(digits_taxonomy())
        else:
            tax = Taxonomy(self.taxonomy)
        A = _as_matrix(X, self.fit_intercept)
        self.taxonomy_ = tax
        self.classes_ = tax.leaves
        self.nodes_ = tax.nodes
        return LeafSoftmaxObjective(A, _encode_labels(y, tax.leaves, A.shape[0]), tax.path, self.c2)

    def fit(self, X: Any, y: Any) -> HierarchicalClassifier:
        """Fit by the chosen solver on features ``X`` (dense or CSR) and leaf labels ``y``."""
        obj = self._objective(X, y)
        self.result_ = self._fit_solver(obj)
        self.coef_ = self.result_.w.reshape(obj.n_nodes, obj.n_features)
        self.objective_ = self.result_.fun
        self.n_iter_ = self.result_.n_iter
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """p(leaf | x), columns in ``classes_``."""
        self._check_fitted()
        A = _as_matrix(X, self.fit_intercept)
        if A.shape[1] != self.coef_.shape[1]:
            raise InputError(f"X has {A.shape[1]} columns; fit saw {self.coef_.shape[1]}")
        leaf = np.asarray(A @ self.coef_.T) @ self.taxonomy_.path.T
        return np.exp(leaf - logsumexp(leaf, axis=1, keepdims=True))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable leaf."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class L1LogisticRegression(_LinearBase):
    """L1 logistic regression: min λ||w||_1 + sum_i NLL_i.

    Two classes: one weight vector with labels ±1 (LIBLINEAR's ``L1R_LR`` model:
    scikit-learn's ``LogisticRegression(penalty="l1", solver="liblinear", C=1/λ)``). More
    classes: the flat multinomial model (one weight vector per class).

    Parameters
    ----------
    lam : λ; fit_intercept : append a constant feature, penalised (as liblinear does).
    solver, m, tol, max_iter, shrinking, n_threads, random_state : as for :class:`CRF`.
    """

    def __init__(
        self,
        lam: float = 1.0,
        fit_intercept: bool = True,
        solver: str = "prox-qn",
        m: int = 10,
        tol: float = 1e-6,
        max_iter: int = 1000,
        shrinking: bool = True,
        n_threads: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.lam = lam
        self.fit_intercept = fit_intercept
        self.solver = solver
        self.m = m
        self.tol = tol
        self.max_iter = max_iter
        self.shrinking = shrinking
        self.n_threads = n_threads
        self.random_state = random_state

    def objective(self, X: Any, y: Any) -> BinaryLogisticObjective | LeafSoftmaxObjective:
        """The smooth loss on ``(X, y)`` (sets ``classes_``)."""
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        if self.classes_.size < 2:
            raise InputError("y has a single class; need at least two")
        A = _as_matrix(X, self.fit_intercept)
        idx = _encode_labels(y, self.classes_, A.shape[0])
        if self.classes_.size == 2:
            return BinaryLogisticObjective(A, np.where(idx == 1, 1.0, -1.0))
        return LeafSoftmaxObjective(A, idx, np.eye(self.classes_.size))

    def fit(self, X: Any, y: Any) -> L1LogisticRegression:
        """Fit on dense or CSR ``X`` and labels ``y``."""
        obj = self.objective(X, y)
        self.result_ = self._fit_solver(obj)
        w = self.result_.w
        self.coef_ = w[None, :] if self.classes_.size == 2 else w.reshape(self.classes_.size, -1)
        self.objective_ = self.result_.fun
        self.n_iter_ = self.result_.n_iter
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """wᵀx (binary, n) or class scores (n x K)."""
        self._check_fitted()
        A = _as_matrix(X, self.fit_intercept)
        if A.shape[1] != self.coef_.shape[1]:
            raise InputError(f"X has {A.shape[1]} columns; fit saw {self.coef_.shape[1]}")
        S = np.asarray(A @ self.coef_.T)
        return S.ravel() if self.classes_.size == 2 else S

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n x K), columns in ``classes_``."""
        S = self.decision_function(X)
        if self.classes_.size == 2:
            p = np.exp(log_expit(S))
            return np.column_stack([1.0 - p, p])
        return np.exp(S - logsumexp(S, axis=1, keepdims=True))

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
