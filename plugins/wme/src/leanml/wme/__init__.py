"""Word Mover's Embedding with an exact Numba WMD kernel.

Implements Wu, Yen, Xu, Xu, Balakrishnan, Chen, Ravikumar, Witbrock, "Word Mover's
Embedding: From Word2Vec to Document Embedding", EMNLP 2018.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from leanml.core.lazy import attach

# The public API is imported on first use, so that loading the plugin (leanml --help,
# leanml plugins) imports no Numba, torch or scikit-learn.
__getattr__, __dir__ = attach(
    __name__,
    {
        "Embeddings": ".embeddings",
        "KNNWMD": ".estimators",
        "RANDOM_WORDS": ".wme",
        "WMEClassifier": ".estimators",
        "WordMoversEmbedding": ".wme",
        "emd": ".distance",
        "load_word2vec": ".embeddings",
        "similarity": ".estimators",
        "wmd": ".distance",
        "wmd_matrix": ".distance",
    },
)


try:
    __version__ = version("leanml-wme")
except PackageNotFoundError:  # source tree, not installed
    __version__ = "0+unknown"

__all__ = [
    "KNNWMD",
    "RANDOM_WORDS",
    "Embeddings",
    "WMEClassifier",
    "WordMoversEmbedding",
    "__version__",
    "emd",
    "load_word2vec",
    "similarity",
    "wmd",
    "wmd_matrix",
]
