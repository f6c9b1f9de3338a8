"""Representer point selection for explaining PyTorch classifiers.

Implements Yeh, Kim, Yen, Ravikumar, "Representer Point Selection for Explaining Deep Neural
Networks", NeurIPS 2018.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from leanml.core.lazy import attach

# The public API is imported on first use, so that loading the plugin (leanml --help,
# leanml plugins) imports no Numba, torch or scikit-learn.
__getattr__, __dir__ = attach(
    __name__,
    {
        "Explanation": ".explainer",
        "NotConvergedError": ".head",
        "RepresenterExplainer": ".explainer",
        "fit_head": ".head",
        "flip_and_fix": ".debugging",
    },
)


try:
    __version__ = version("leanml-representer")
except PackageNotFoundError:  # source tree, not installed
    __version__ = "0+unknown"

__all__ = [
    "Explanation",
    "NotConvergedError",
    "RepresenterExplainer",
    "__version__",
    "fit_head",
    "flip_and_fix",
]
