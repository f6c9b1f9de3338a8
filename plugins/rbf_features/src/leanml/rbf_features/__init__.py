"""Random Binning features with fast coordinate-descent solvers.

Implements Wu, Yen, Chen, Yan, "Revisiting Random Binning Features: Fast Convergence and
Strong Parallelizability", KDD 2016.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .binning import KERNELS, RandomBinningFeatures, kernel_matrix, sample_widths
from .estimators import RBClassifier, RBRegressor
from .solvers import RBDesign

try:
    __version__ = version("leanml-rbf-features")
except PackageNotFoundError:  # source tree, not installed
    __version__ = "0+unknown"

__all__ = [
    "KERNELS",
    "RBClassifier",
    "RBDesign",
    "RBRegressor",
    "RandomBinningFeatures",
    "__version__",
    "kernel_matrix",
    "sample_widths",
]
