"""Proximal quasi-Newton for L1-regularised CRFs and log-linear models.

Implements Zhong, Yen, Dhillon, Ravikumar, "Proximal Quasi-Newton for Computationally
Intensive L1-regularized M-estimators", NIPS 2014.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from leanml.core.lazy import attach

# The public API is imported on first use, so that loading the plugin (leanml --help,
# leanml plugins) imports no Numba, torch or scikit-learn.
__getattr__, __dir__ = attach(
    __name__,
    {
        "AttributeIndex": ".features",
        "CRF": ".crf",
        "ChainData": ".chain",
        "ChainObjective": ".chain",
        "HierarchicalClassifier": ".linear",
        "L1LogisticRegression": ".linear",
        "SolverResult": ".solvers",
        "Taxonomy": ".linear",
        "Trace": ".solvers",
        "ConvergenceWarning": ".solvers",
        "conll_token_features": ".features",
        "fista": ".solvers",
        "owlqn": ".solvers",
        "pos_token_features": ".features",
        "prox_qn": ".solvers",
        "word_features": ".features",
    },
)


try:
    __version__ = version("leanml-pqn-crf")
except PackageNotFoundError:  # source tree, not installed
    __version__ = "0+unknown"

__all__ = [
    "CRF",
    "AttributeIndex",
    "ChainData",
    "ChainObjective",
    "ConvergenceWarning",
    "HierarchicalClassifier",
    "L1LogisticRegression",
    "SolverResult",
    "Taxonomy",
    "Trace",
    "__version__",
    "conll_token_features",
    "fista",
    "owlqn",
    "pos_token_features",
    "prox_qn",
    "word_features",
]
