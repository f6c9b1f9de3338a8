"""What a Captum or Hugging Face user hands in: batches, model outputs, dtypes, devices.

Inputs may be a tensor, or a ``DataLoader`` yielding tensors, ``(x, y)`` tuples or dicts of
keyword arguments (a tokenizer's output). Model outputs may be logits, a ``ModelOutput`` or a
dict with ``"logits"``, or anything an ``output_fn`` maps to logits. Rows must come in a fixed
order: the stored training features are matched to alpha (and to labels) by position, so a
loader whose sampler is not sequential is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch

from leanml.core import InputError

__all__ = ["Batch", "batches", "call_model", "to_logits"]

#: One batch: the model's input (a tensor or a dict of keyword arguments) and the labels the
#: loader gave with it (None when it gave none).
Batch = tuple[Any, torch.Tensor | None]


def _check_order(loader: torch.utils.data.DataLoader) -> None:
    sampler = loader.batch_sampler.sampler if loader.batch_sampler is not None else loader.sampler
    if not isinstance(sampler, torch.utils.data.SequentialSampler):
        raise InputError(
            f"the DataLoader's sampler is {type(sampler).__name__}, not sequential: its order "
            "would not match the stored features; pass one with shuffle=False and no sampler"
        )


def _split(batch: Any) -> Batch:
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, Mapping):
        inputs = {k: v for k, v in batch.items() if k not in ("labels", "label")}
        labels = batch.get("labels", batch.get("label"))
        return inputs, None if labels is None else torch.as_tensor(labels)
    if isinstance(batch, (tuple, list)):
        if len(batch) == 1:
            return batch[0], None
        if len(batch) == 2:
            return batch[0], torch.as_tensor(batch[1])
    raise InputError(
        "batches must be tensors, (x,) / (x, y) tuples or dicts of model keyword arguments; "
        f"got {type(batch).__name__}"
    )


def batches(X: Any, batch_size: int) -> Iterator[Batch]:
    """``(inputs, labels or None)`` of each batch of X, in row order."""
    if isinstance(X, torch.utils.data.DataLoader):
        _check_order(X)
        for batch in X:
            yield _split(batch)
        return
    if isinstance(X, Mapping):  # one dict of full-length tensors (a tokenizer's output)
        n = len(next(iter(X.values())))
        for start in range(0, n, batch_size):
            yield {k: v[start : start + batch_size] for k, v in X.items()}, None
        return
    X = torch.as_tensor(X)
    for start in range(0, X.shape[0], batch_size):
        yield X[start : start + batch_size], None


def _place(v: Any, device: torch.device, dtype: torch.dtype) -> Any:
    if not isinstance(v, torch.Tensor):
        return v
    # integer inputs (token ids, masks) keep their dtype; floating inputs take the model's
    return v.to(device=device, dtype=dtype if v.is_floating_point() else v.dtype)


def call_model(model: torch.nn.Module, inputs: Any, device: torch.device, dtype: torch.dtype):
    """``model(inputs)``, or ``model(**inputs)`` for a dict, on the head's device and dtype."""
    if isinstance(inputs, Mapping):
        return model(**{k: _place(v, device, dtype) for k, v in inputs.items()})
    return model(_place(torch.as_tensor(inputs), device, dtype))


def to_logits(out: Any, output_fn: Callable[[Any], torch.Tensor] | None) -> torch.Tensor:
    """The logits tensor in a model's output."""
    if output_fn is not None:
        out = output_fn(out)
    if isinstance(out, torch.Tensor):
        return out
    if isinstance(out, Mapping) and "logits" in out:  # ModelOutput is a Mapping too
        return out["logits"]
    if hasattr(out, "logits") and isinstance(out.logits, torch.Tensor):
        return out.logits
    raise InputError(
        f"the model returned a {type(out).__name__} without logits; pass output_fn= that "
        "maps the model's output to its logits tensor"
    )
