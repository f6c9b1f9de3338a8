"""The peers a user would otherwise pick, as estimators with the same interface.

- ``RBFSampler`` (random Fourier features, Gaussian kernel) + ``LinearSVC``;
- ``Nystroem(kernel="laplacian")`` + ``LinearSVC``, the same L1 Laplacian kernel as RB;
- exact ``SVC`` on the precomputed L1 Laplacian kernel (small data only).

Each takes the bandwidth ``sigma`` in RB's convention and converts it to the peer's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.kernel_approximation import Nystroem, RBFSampler
from sklearn.metrics.pairwise import laplacian_kernel
from sklearn.pipeline import make_pipeline
from sklearn.svm import SVC, LinearSVC

__all__ = ["ExactLaplacianSVC", "nystroem_svc", "rbf_sampler_svc"]


def rbf_sampler_svc(
    n_components: int = 256, sigma: float = 1.0, C: float = 1.0, random_state: Any = None
) -> Any:
    """Random Fourier features of exp(-||x - y||_2^2 / (2 sigma^2)) + LinearSVC (hinge, dual)."""
    return make_pipeline(
        RBFSampler(gamma=0.5 / sigma**2, n_components=n_components, random_state=random_state),
        LinearSVC(C=C, loss="hinge", dual=True, max_iter=5000),
    )


def nystroem_svc(
    n_components: int = 256, sigma: float = 1.0, C: float = 1.0, random_state: Any = None
) -> Any:
    """Nystroem approximation of exp(-||x - y||_1 / sigma) + LinearSVC (hinge, dual)."""
    return make_pipeline(
        Nystroem(
            kernel="laplacian",
            gamma=1.0 / sigma,
            n_components=n_components,
            random_state=random_state,
        ),
        LinearSVC(C=C, loss="hinge", dual=True, max_iter=5000),
    )


class ExactLaplacianSVC(ClassifierMixin, BaseEstimator):
    """Exact kernel SVM (LIBSVM's SMO) with k(x, y) = exp(-||x - y||_1 / sigma).

    Builds the full n x n kernel matrix: meant for data sets of a few thousand rows.
    """

    def __init__(self, sigma: float = 1.0, C: float = 1.0) -> None:
        self.sigma = sigma
        self.C = C

    def fit(self, X: Any, y: Any) -> ExactLaplacianSVC:
        """Fit SVC on the precomputed training kernel."""
        self.X_fit_ = np.asarray(X, dtype=np.float64)
        self.svc_ = SVC(kernel="precomputed", C=self.C)
        self.svc_.fit(laplacian_kernel(self.X_fit_, gamma=1.0 / self.sigma), y)
        self.classes_ = self.svc_.classes_
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Labels from the test-versus-train kernel."""
        K = laplacian_kernel(np.asarray(X, dtype=np.float64), self.X_fit_, gamma=1.0 / self.sigma)
        return self.svc_.predict(K)
