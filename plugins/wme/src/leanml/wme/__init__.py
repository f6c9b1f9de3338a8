"""Word Mover's Embedding with an exact Numba WMD kernel.

Implements Wu, Yen, Xu, Xu, Balakrishnan, Chen, Ravikumar, Witbrock, "Word Mover's
Embedding: From Word2Vec to Document Embedding", EMNLP 2018.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .distance import emd, wmd, wmd_matrix
from .embeddings import Embeddings, load_word2vec
from .estimators import KNNWMD, WMEClassifier, similarity
from .wme import RANDOM_WORDS, WordMoversEmbedding

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
