"""CSR inference against dense ``F.linear`` (the peer: what a pruned model runs without a
sparse kernel, and what ``torch.nn.utils.prune`` leaves you with).

``LEANML_BENCH=smoke``: a 256x64 weight, 16 tokens, tiny model (checks that it runs).
``full``: BERT-base shapes at 90%, 128 tokens, and the ratio acceptance checks.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from leanml.prune_kd.pruning import MagnitudePruner, magnitude_mask
from leanml.prune_kd.sparse import SparseLinear, sparsify
from leanml.prune_kd.speed import linear_speed

SPARSITY = 0.9


def _shapes(size):
    return [(256, 64)] if size == "smoke" else [(768, 768), (3072, 768), (768, 3072)]


def _tokens(size):
    return 16 if size == "smoke" else 128


@pytest.fixture(params=["3072x768", "768x768", "768x3072"])
def layer(request, bench_size):
    shapes = {f"{o}x{i}": (o, i) for o, i in _shapes("full")}
    o, i = (256, 64) if bench_size == "smoke" else shapes[request.param]
    if bench_size == "smoke" and request.param != "3072x768":
        pytest.skip("smoke runs one shape")
    torch.manual_seed(0)
    lin = nn.Linear(i, o)
    with torch.no_grad():
        lin.weight.mul_(magnitude_mask(lin.weight, SPARSITY))
    x = torch.randn(_tokens(bench_size), i)
    return request.param, lin, x


@torch.inference_mode()
def test_dense_linear(benchmark, layer):
    name, lin, x = layer
    benchmark.group = f"linear {name} at 90%"
    w, b = lin.weight.detach(), lin.bias.detach()
    benchmark(F.linear, x, w, b)


@torch.inference_mode()
def test_csr_linear(benchmark, layer):
    name, lin, x = layer
    benchmark.group = f"linear {name} at 90%"
    sl = SparseLinear.from_dense(lin)
    benchmark(sl, x)


@pytest.fixture
def tiny_bert(bench_size):
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    h = 64 if bench_size == "smoke" else 384
    cfg = BertConfig(
        vocab_size=1000,
        hidden_size=h,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=4 * h,
        max_position_embeddings=128,
    )
    dense = BertModel(cfg).eval()
    MagnitudePruner(dense).prune_to(SPARSITY)
    ids = torch.randint(1, 1000, (1, 32 if bench_size == "smoke" else 128))
    return dense, ids


@torch.inference_mode()
def test_model_masked_dense(benchmark, tiny_bert):
    model, ids = tiny_bert
    benchmark.group = "whole model at 90%"
    benchmark(model, input_ids=ids)


@torch.inference_mode()
def test_model_csr(benchmark, tiny_bert):
    import copy

    model, ids = tiny_bert
    benchmark.group = "whole model at 90%"
    csr = copy.deepcopy(model)
    sparsify(csr)
    benchmark(csr, input_ids=ids)


def test_ratio_csr_vs_dense_3072x768(bench_size, fixed_threads):
    """Acceptance: >= 2.5x on 1 thread, 128 tokens (full mode; same process, interleaved)."""
    if bench_size == "smoke":
        row = linear_speed(256, 64, SPARSITY, 16, threads=1, repeats=3)
        assert row["csr_ms"] > 0
        return
    row = linear_speed(3072, 768, SPARSITY, 128, threads=1, repeats=21)
    print(row)
    assert row["csr_speedup"] >= 2.5, row
