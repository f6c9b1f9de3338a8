"""Random Binning features with fast coordinate-descent solvers.

Implements Wu, Yen, Chen, Yan, "Revisiting Random Binning Features: Fast Convergence and
Strong Parallelizability", KDD 2016.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from leanml.core.lazy import attach

# The public API is imported on first use, so that loading the plugin (leanml --help,
# leanml plugins) imports no Numba, torch or scikit-learn.
__getattr__, __dir__ = attach(
    __name__,
    {
        "KERNELS": ".binning",
        "RBClassifier": ".estimators",
        "RBDesign": ".solvers",
        "RBRegressor": ".estimators",
        "RandomBinningFeatures": ".binning",
        "kernel_matrix": ".binning",
        "sample_widths": ".binning",
    },
)


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
