"""Binary Matching Pursuit: tensor latent features with binary codes.

Implements Chang, Zheng, Yen, Ravikumar, Yu, "Learning Tensor Latent Features" /
"Efficient Tensor Decomposition with Boolean Factors" (arXiv:1810.04754), on top of Latent
Feature Lasso (Yen et al., ICML 2017), with the low-rank mixing-method MAXCUT solver
(Wang, Chang, Kolter 2017) for its boolean quadratic programs.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from leanml.core.lazy import attach

# The public API is imported on first use, so that loading the plugin imports no Numba,
# TensorLy or scikit-learn.
__getattr__, __dir__ = attach(
    __name__,
    {
        "BQPResult": ".bqp",
        "BinaryLatentFeatures": ".estimators",
        "CPPeer": ".peers",
        "NMFPeer": ".peers",
        "TuckerPeer": ".peers",
        "anneal_bqp": ".peers",
        "digits_tensor": ".datasets",
        "homogenize": ".bqp",
        "indian_pines_cube": ".datasets",
        "planted_codes": ".synthetic",
        "sdp_bound": ".peers",
        "solve_bqp": ".bqp",
        "solve_bqp_exhaustive": ".bqp",
    },
)

try:
    __version__ = version("leanml-bmp")
except PackageNotFoundError:  # source tree, not installed
    __version__ = "0+unknown"

__all__ = [
    "BQPResult",
    "BinaryLatentFeatures",
    "CPPeer",
    "NMFPeer",
    "TuckerPeer",
    "__version__",
    "anneal_bqp",
    "digits_tensor",
    "homogenize",
    "indian_pines_cube",
    "planted_codes",
    "sdp_bound",
    "solve_bqp",
    "solve_bqp_exhaustive",
]
