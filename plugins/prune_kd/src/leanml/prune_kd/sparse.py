"""CSR inference for pruned linears and a pickle-free sparse safetensors format.

Masked dense weights run exactly as fast as dense ones; only a sparse kernel turns zeros
into time. :class:`SparseLinear` keeps :math:`W` as a ``torch.sparse_csr`` tensor with
int32 indices and computes :math:`y = xW^\\top + b` as ``addmm(b, W_csr, x^\\top)^\\top``
(MKL sparse on CPU, inference only). :func:`save_sparse` writes every targeted matrix as
values + int32 row pointers + column indices (int16 where the matrix is at most 32,767
wide, else int32), the rest dense, and the model config in the header, optionally storing
floating tensors in half precision; :func:`load_sparse` rebuilds a model whose pruned
linears run as CSR, in the model's own dtype.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from leanml.core import DataError, InputError

from .patterns import compile_patterns, matches

__all__ = ["FORMAT", "STORAGE_DTYPES", "SparseLinear", "load_sparse", "save_sparse", "sparsify"]

#: Value of the ``format`` header entry of files written by :func:`save_sparse`.
FORMAT = "leanml-prune-kd-sparse/1"

#: Storage dtypes :func:`save_sparse` accepts for floating tensors, by name.
STORAGE_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

# Column indices are < in_features; int16 holds them losslessly up to this width.
_INT16_MAX_WIDTH = torch.iinfo(torch.int16).max

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
warnings.filterwarnings("ignore", message="Sparse invariant checks are implicitly disabled")


def _csr(
    values: torch.Tensor, crow: torch.Tensor, col: torch.Tensor, shape, check: bool = False
) -> torch.Tensor:
    """CSR tensor with int32 indices; ``check`` validates them (files from disk)."""
    return torch.sparse_csr_tensor(
        crow.to(torch.int32),
        col.to(torch.int32),
        values,
        size=tuple(shape),
        check_invariants=check,
    )


class SparseLinear(nn.Module):
    """A linear layer whose weight is a CSR matrix (inference only: no gradients).

    Parameters
    ----------
    weight
        :math:`W` as a ``torch.sparse_csr`` tensor, ``(out_features, in_features)``.
    bias
        :math:`b` or ``None``.
    """

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        super().__init__()
        if weight.layout != torch.sparse_csr or weight.dim() != 2:
            raise InputError("SparseLinear needs a 2-D torch.sparse_csr weight")
        self.out_features, self.in_features = weight.shape
        self._sparse_weights = {"weight": weight}
        if bias is not None:
            bias = bias.detach().reshape(-1)
            if bias.numel() != self.out_features:
                raise InputError(f"bias has {bias.numel()} entries, expected {self.out_features}")
            self.register_buffer("bias", bias.clone())
        else:
            self.bias = None

    @property
    def weight(self) -> torch.Tensor:
        """The CSR weight."""
        return self._sparse_weights["weight"]

    @classmethod
    def from_dense(cls, linear: nn.Linear) -> SparseLinear:
        """CSR copy of ``linear`` (its exact zeros are dropped; int32 indices).

        Raises
        ------
        InputError
            The weight is not 2-D or holds NaN/inf.
        """
        w = getattr(linear, "weight", None)
        if not isinstance(w, torch.Tensor) or w.dim() != 2:
            raise InputError(
                f"CSR conversion needs a 2-D weight, got {None if w is None else tuple(w.shape)}"
            )
        w = w.detach()
        if not torch.isfinite(w).all():
            raise InputError("cannot convert a weight holding NaN or inf to CSR")
        csr = w.to_sparse_csr()
        return cls(
            _csr(csr.values(), csr.crow_indices(), csr.col_indices(), w.shape),
            None if linear.bias is None else linear.bias,
        )

    @property
    def nnz(self) -> int:
        """Stored non-zeros."""
        return int(self.weight.values().numel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise InputError(f"input has {x.shape[-1]} features, expected {self.in_features}")
        x2 = x.reshape(-1, self.in_features)
        if self.bias is None:
            y = torch.sparse.mm(self.weight, x2.t())
        else:
            y = torch.addmm(self.bias.unsqueeze(1), self.weight, x2.t())
        return y.t().reshape(*x.shape[:-1], self.out_features)

    def _apply(self, fn, recurse: bool = True):  # .to(), .float() reach the CSR weight
        super()._apply(fn, recurse)
        self._sparse_weights = {k: fn(v) for k, v in self._sparse_weights.items()}
        return self

    def extra_repr(self) -> str:
        density = self.nnz / (self.out_features * self.in_features)
        return f"in={self.in_features}, out={self.out_features}, density={density:.3f}"


def sparsify(
    model: nn.Module, patterns: str | Sequence[str] | None = None, min_sparsity: float = 0.0
) -> list[str]:
    """Replace, in place, every ``nn.Linear`` whose weight matches ``patterns`` (and has at
    least ``min_sparsity`` zeros) by :meth:`SparseLinear.from_dense`. Returns module names."""
    compiled = compile_patterns(patterns)
    done = []
    for name, mod in list(model.named_modules()):
        if isinstance(mod, nn.Linear) and matches(f"{name}.weight", compiled):
            zeros = 1.0 - int(torch.count_nonzero(mod.weight)) / mod.weight.numel()
            if zeros < min_sparsity:
                continue
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent), attr, SparseLinear.from_dense(mod))
            done.append(name)
    if not done:
        raise InputError("no linear layer matched the patterns; nothing was converted to CSR")
    return done


def _col_indices(col: torch.Tensor, width: int) -> torch.Tensor:
    return col.to(torch.int16 if width <= _INT16_MAX_WIDTH else torch.int32)


def save_sparse(
    model: nn.Module,
    path: str | Path,
    patterns: str | Sequence[str] | None = None,
    min_sparsity: float = 0.5,
    metadata: dict[str, Any] | None = None,
    dtype: torch.dtype | str | None = None,
) -> dict[str, Any]:
    """Write ``model`` as safetensors with its pruned matrices in CSR (no pickle).

    Each targeted 2-D weight ``name`` with at least ``min_sparsity`` zeros is stored as
    ``name.values``, ``name.crow_indices`` (int32) and ``name.col_indices`` (int16 when the
    matrix is at most 32,767 columns wide, else int32; lossless either way); its shape, the
    model class and its ``config`` go in the header. Everything else is stored dense.

    ``dtype`` (``torch.float16``, ``torch.bfloat16`` or their names) stores every floating
    tensor, pruned values and dense tensors alike, in that precision; the header records
    the model's dtype and :func:`load_sparse` casts back to it. This is lossy (about three
    significant digits for float16) and halves the file. ``None`` keeps each tensor's
    dtype. Returns the header.

    Raises
    ------
    InputError
        A stored weight holds NaN/inf, a value overflows float16, or ``dtype`` is not one
        of :data:`STORAGE_DTYPES`.
    """
    from safetensors.torch import save_file

    store = _storage_dtype(dtype)
    compiled = compile_patterns(patterns)
    tensors: dict[str, torch.Tensor] = {}
    shapes: dict[str, list[int]] = {}

    def put(name: str, t: torch.Tensor) -> None:
        if store is not None and t.is_floating_point() and t.dtype != store:
            cast = t.to(store)
            if torch.isinf(cast).any() and not torch.isinf(t).any():
                raise InputError(f"{name} overflows {store}; store it as bfloat16 or float32")
            t = cast
        tensors[name] = t.contiguous().clone()

    def put_csr(name: str, csr: torch.Tensor, shape: Sequence[int]) -> None:
        put(f"{name}.values", csr.values())
        tensors[f"{name}.crow_indices"] = csr.crow_indices().to(torch.int32)
        tensors[f"{name}.col_indices"] = _col_indices(csr.col_indices(), shape[1])
        shapes[name] = list(shape)

    compute = None
    for name, t in model.state_dict().items():
        t = t.detach()
        if compute is None and t.is_floating_point():
            compute = t.dtype
        if t.dim() == 2 and matches(name, compiled) and t.layout == torch.strided:
            zeros = 1.0 - int(torch.count_nonzero(t)) / t.numel()
            if zeros >= min_sparsity:
                if not torch.isfinite(t).all():
                    raise InputError(f"{name} holds NaN or inf")
                put_csr(name, t.to_sparse_csr(), t.shape)
                continue
        put(name, t)
    for name, mod in model.named_modules():  # already-converted SparseLinear layers
        if isinstance(mod, SparseLinear):
            compute = compute or mod.weight.dtype
            put_csr(f"{name}.weight", mod.weight, (mod.out_features, mod.in_features))
    config = getattr(model, "config", None)
    header = {
        "format": FORMAT,
        "sparse": json.dumps(shapes),
        "class": type(model).__name__,
        "config": config.to_json_string() if config is not None else "{}",
        **{k: str(v) for k, v in (metadata or {}).items()},
    }
    if store is not None and compute is not None:
        header["compute_dtype"] = str(compute).removeprefix("torch.")
    save_file(tensors, str(path), metadata=header)
    return header


def _storage_dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    if dtype is None:
        return None
    by_name = STORAGE_DTYPES.get(dtype) if isinstance(dtype, str) else None
    if by_name is None and dtype not in STORAGE_DTYPES.values():
        raise InputError(f"dtype must be one of {', '.join(STORAGE_DTYPES)}, got {dtype!r}")
    return by_name or dtype


def load_sparse(path: str | Path, dense: bool = False) -> nn.Module:
    """Rebuild a model saved by :func:`save_sparse`.

    Parameters
    ----------
    path
        The ``.safetensors`` file.
    dense
        ``False``: pruned linears become :class:`SparseLinear` (CSR inference);
        ``True``: they are densified (for further training).
    """
    import transformers
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", path)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types
        raise DataError(f"not a safetensors file: {exc}", path) from exc
    if header.get("format") != FORMAT:
        raise DataError(f"not a {FORMAT} file (format {header.get('format')!r})", path)
    shapes = json.loads(header["sparse"])
    cls = getattr(transformers, header["class"], None)
    if cls is None:
        raise DataError(f"unknown model class {header['class']!r}", path)
    config = transformers.AutoConfig.for_model(**json.loads(header["config"]))
    model = cls(config)
    state, csr = {}, {}
    for name, shape in shapes.items():
        if any(
            f"{name}.{part}" not in tensors for part in ("values", "crow_indices", "col_indices")
        ):
            raise DataError(f"sparse tensor {name} is incomplete", path)
        w = _csr(
            tensors.pop(f"{name}.values"),
            tensors.pop(f"{name}.crow_indices"),
            tensors.pop(f"{name}.col_indices"),
            shape,
            check=True,
        )
        if dense:
            state[name] = w.to_dense()
        else:
            csr[name] = w
    state.update(tensors)
    compute = header.get("compute_dtype")
    if compute is not None:
        if compute not in STORAGE_DTYPES and compute != "float64":
            raise DataError(f"unknown compute_dtype {compute!r}", path)
        back = getattr(torch, compute)
        state = {k: v.to(back) if v.is_floating_point() else v for k, v in state.items()}
        csr = {k: w.to(back) for k, w in csr.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if m not in csr]
    if unexpected or missing:
        raise DataError(f"tensors do not fit {header['class']}: {missing or unexpected}", path)
    for name, w in csr.items():
        mod_name = name.rpartition(".")[0]
        parent, _, attr = mod_name.rpartition(".")
        lin = model.get_submodule(mod_name)
        setattr(model.get_submodule(parent), attr, SparseLinear(w, lin.bias))
    return model.eval()
