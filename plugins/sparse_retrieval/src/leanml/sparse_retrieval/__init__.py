"""FLOPs-regularised sparse embeddings and a fast sparse inverted index.

Implements Paria, Yeh, Yen, Xu, Ravikumar, Póczos, "Minimizing FLOPs to Learn Efficient
Sparse Representations", ICLR 2020.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from leanml.core.lazy import attach

# Imported on first use, so that loading the plugin imports no torch, Numba or faiss.
__getattr__, __dir__ = attach(
    __name__,
    {
        "CosineSoftmaxLoss": ".task_losses",
        "FLOPsRegularizer": ".regularizers",
        "FaissIndex": ".peers",
        "L1Regularizer": ".regularizers",
        "QuadraticWarmup": ".regularizers",
        "SparseEmbedder": ".trainer",
        "SparseHead": ".heads",
        "SparseIndex": ".index",
        "SparseRetriever": ".estimators",
        "Trainer": ".trainer",
        "TripletSemiHardLoss": ".task_losses",
        "activation_probability": ".accounting",
        "expected_flops": ".accounting",
        "flops_penalty": ".regularizers",
        "flops_ratio": ".accounting",
        "flops_stats": ".accounting",
        "l1_penalty": ".regularizers",
        "load_fashion_mnist": ".datasets",
        "soft_threshold": ".heads",
        "to_csr": ".index",
    },
)

try:
    __version__ = version("leanml-sparse-retrieval")
except PackageNotFoundError:  # source tree, not installed
    __version__ = "0+unknown"

__all__ = [
    "CosineSoftmaxLoss",
    "FLOPsRegularizer",
    "FaissIndex",
    "L1Regularizer",
    "QuadraticWarmup",
    "SparseEmbedder",
    "SparseHead",
    "SparseIndex",
    "SparseRetriever",
    "Trainer",
    "TripletSemiHardLoss",
    "__version__",
    "activation_probability",
    "expected_flops",
    "flops_penalty",
    "flops_ratio",
    "flops_stats",
    "l1_penalty",
    "load_fashion_mnist",
    "soft_threshold",
    "to_csr",
]
