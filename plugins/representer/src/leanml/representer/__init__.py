"""Representer point selection for explaining PyTorch classifiers.

Implements Yeh, Kim, Yen, Ravikumar, "Representer Point Selection for Explaining Deep Neural
Networks", NeurIPS 2018.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .debugging import flip_and_fix
from .explainer import Explanation, RepresenterExplainer
from .head import NotConvergedError, fit_head

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
