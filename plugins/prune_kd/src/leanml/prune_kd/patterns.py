"""Which weights are pruned: regular expressions over parameter names (imports no torch).

Both papers prune, in every encoder layer, the six linear weight matrices
``attention.self.{query,key,value}``, ``attention.output.dense``, ``intermediate.dense`` and
``output.dense``; embeddings, biases, LayerNorms, the pooler and the classifier stay dense.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from leanml.core import ParameterError

__all__ = ["DEFAULT_PATTERNS", "PRESETS", "compile_patterns", "matches"]

_LAYER = r"encoder\.layer\.\d+\."

#: Named pattern sets; ``"encoder-linear"`` is the papers' choice and the default.
PRESETS: dict[str, tuple[str, ...]] = {
    "encoder-linear": (
        _LAYER + r"attention\.self\.(query|key|value)\.weight$",
        _LAYER + r"attention\.output\.dense\.weight$",
        _LAYER + r"intermediate\.dense\.weight$",
        _LAYER + r"output\.dense\.weight$",
    ),
    "attention": (
        _LAYER + r"attention\.self\.(query|key|value)\.weight$",
        _LAYER + r"attention\.output\.dense\.weight$",
    ),
    "ffn": (
        _LAYER + r"intermediate\.dense\.weight$",
        _LAYER + r"output\.dense\.weight$",
    ),
}

#: The six encoder linear weights of every layer (Q, K, V, attention output, FFN in/out).
DEFAULT_PATTERNS: tuple[str, ...] = PRESETS["encoder-linear"]


def compile_patterns(patterns: str | Sequence[str] | None) -> list[re.Pattern[str]]:
    """Compile a preset name, one regular expression or a sequence of them.

    Parameters
    ----------
    patterns
        ``None`` (the papers' encoder-linear set), a key of :data:`PRESETS`, or regular
        expressions searched (:func:`re.search`) in parameter names.
    """
    if patterns is None:
        patterns = DEFAULT_PATTERNS
    elif isinstance(patterns, str):
        patterns = PRESETS.get(patterns, (patterns,))
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p))
        except re.error as exc:
            raise ParameterError(f"invalid pruning pattern {p!r}: {exc}") from None
    if not out:
        raise ParameterError("no pruning pattern given")
    return out


def matches(name: str, compiled: Iterable[re.Pattern[str]]) -> bool:
    """Whether parameter ``name`` matches any compiled pattern."""
    return any(p.search(name) for p in compiled)
