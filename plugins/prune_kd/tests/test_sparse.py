from __future__ import annotations

import json

import pytest
import scipy.sparse as sp
import torch
from torch import nn

from leanml.core import DataError, InputError
from leanml.prune_kd.pruning import MagnitudePruner, sparsity_report
from leanml.prune_kd.sparse import SparseLinear, load_sparse, save_sparse, sparsify


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("shape", [(3,), (4, 7), (2, 3, 5)])
def test_csr_equals_dense(sparsity, shape):
    torch.manual_seed(0)
    lin = nn.Linear(24, 40)
    with torch.no_grad():
        lin.weight[torch.rand_like(lin.weight) < sparsity] = 0
    sl = SparseLinear.from_dense(lin)
    x = torch.randn(*shape[:-1], shape[-1] if len(shape) > 1 else 1, 24).squeeze(-2)
    x = torch.randn(*shape, 24)
    torch.testing.assert_close(sl(x), lin(x), atol=1e-5, rtol=1e-5)
    assert sl.weight.crow_indices().dtype == torch.int32
    assert sl.weight.col_indices().dtype == torch.int32
    # an independent reference: scipy's CSR of the same matrix
    ref = sp.csr_matrix(lin.weight.detach().numpy())
    assert sl.nnz == ref.nnz
    x2 = x.reshape(-1, 24).detach().numpy()
    want = (ref @ x2.T).T + lin.bias.detach().numpy()
    torch.testing.assert_close(sl(x).reshape(-1, 40), torch.from_numpy(want), atol=1e-5, rtol=1e-5)


def test_no_bias_and_bad_inputs():
    lin = nn.Linear(6, 4, bias=False)
    sl = SparseLinear.from_dense(lin)
    x = torch.randn(2, 6)
    torch.testing.assert_close(sl(x), lin(x), atol=1e-6, rtol=1e-5)
    with pytest.raises(InputError, match="features"):
        sl(torch.randn(2, 5))

    class Odd(nn.Module):
        weight = torch.ones(2, 2, 2)
        bias = None

    with pytest.raises(InputError, match="2-D"):
        SparseLinear.from_dense(Odd())
    bad = nn.Linear(2, 2)
    with torch.no_grad():
        bad.weight[0, 0] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        SparseLinear.from_dense(bad)


def test_sparsified_model_matches_masked_dense(model, padded_batch):
    MagnitudePruner(model).prune_to(0.9)
    model.eval()
    inputs = {k: v for k, v in padded_batch.items() if k != "labels"}
    want = model(**inputs).logits
    rep = sparsity_report(model)
    names = sparsify(model)
    assert len(names) == 12
    torch.testing.assert_close(model(**inputs).logits, want, atol=1e-5, rtol=1e-5)
    assert sparsity_report(model).encoder_linear == pytest.approx(rep.encoder_linear)


def test_save_load_round_trip(model, padded_batch, tmp_path):
    MagnitudePruner(model).prune_to(0.9)
    model.eval()
    inputs = {k: v for k, v in padded_batch.items() if k != "labels"}
    want = model(**inputs).logits
    path = tmp_path / "m.safetensors"
    header = save_sparse(model, path)
    assert len(json.loads(header["sparse"])) == 12
    # no pickle anywhere: safetensors header is JSON; row pointers int32, columns int16
    # (the tiny model is far narrower than 32,767)
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        for k in f.keys():
            if k.endswith("crow_indices"):
                assert f.get_tensor(k).dtype == torch.int32
            elif k.endswith("col_indices"):
                assert f.get_tensor(k).dtype == torch.int16
    loaded = load_sparse(path)
    assert sum(isinstance(m, SparseLinear) for m in loaded.modules()) == 12
    torch.testing.assert_close(loaded(**inputs).logits, want, atol=1e-5, rtol=1e-5)
    dense = load_sparse(path, dense=True)
    torch.testing.assert_close(dense(**inputs).logits, want, atol=1e-5, rtol=1e-5)
    zeros = {n: (p == 0) for n, p in model.named_parameters()}
    for n, p in dense.named_parameters():
        assert torch.equal(p == 0, zeros[n]), n  # the mask survives save/load
    # saving an already-CSR model writes the same tensors
    path2 = tmp_path / "m2.safetensors"
    save_sparse(loaded, path2)
    torch.testing.assert_close(load_sparse(path2)(**inputs).logits, want, atol=1e-5, rtol=1e-5)


def test_sparse_file_smaller_at_90(model, tmp_path):
    from transformers import BertConfig, BertForSequenceClassification

    big = BertForSequenceClassification(
        BertConfig(
            vocab_size=16,
            hidden_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=512,
            max_position_embeddings=16,
        )
    )
    dense_path, sparse_path = tmp_path / "d.safetensors", tmp_path / "s.safetensors"
    save_sparse(big, dense_path)  # nothing pruned: every matrix stays dense
    MagnitudePruner(big).prune_to(0.9)
    save_sparse(big, sparse_path)
    lin_bytes = sum(
        p.numel() * 4 for n, p in big.named_parameters() if "encoder" in n and p.dim() == 2
    )
    saved = dense_path.stat().st_size - sparse_path.stat().st_size
    # values (4 B) + int16 column (2 B) for 10% of entries: saves ~85% of the linears' bytes
    assert saved > 0.83 * lin_bytes
    # float16 storage halves every floating tensor, the dense ones included; indices stay
    from safetensors import safe_open

    half_path = tmp_path / "h.safetensors"
    save_sparse(big, half_path, dtype=torch.float16)
    with safe_open(str(sparse_path), framework="pt") as f:
        float_bytes = sum(
            f.get_tensor(k).numel() * 4 for k in f.keys() if f.get_tensor(k).is_floating_point()
        )
    halved = sparse_path.stat().st_size - half_path.stat().st_size
    assert halved == pytest.approx(0.5 * float_bytes, rel=0.01)  # headers and padding differ


@pytest.mark.parametrize("dtype", [torch.float16, "bfloat16"])
def test_half_storage_round_trip(model, padded_batch, tmp_path, dtype):
    MagnitudePruner(model).prune_to(0.9)
    model.eval()
    inputs = {k: v for k, v in padded_batch.items() if k != "labels"}
    want = model(**inputs).logits
    path = tmp_path / "h.safetensors"
    header = save_sparse(model, path, dtype=dtype)
    assert header["compute_dtype"] == "float32"
    from safetensors import safe_open

    store = torch.float16 if dtype is torch.float16 else torch.bfloat16
    with safe_open(str(path), framework="pt") as f:
        floats = {f.get_tensor(k).dtype for k in f.keys() if f.get_tensor(k).is_floating_point()}
    assert floats == {store}
    for dense in (False, True):
        loaded = load_sparse(path, dense=dense)
        assert all(p.dtype == torch.float32 for p in loaded.parameters())
        got = loaded(**inputs).logits
        assert got.dtype == torch.float32
        # float16 keeps ~3 significant digits, bfloat16 ~2: the logits move accordingly
        tol = 2e-3 if store is torch.float16 else 2e-2
        torch.testing.assert_close(got, want, atol=tol, rtol=tol)
        assert not torch.equal(got, want)  # the storage really was lossy
    back = load_sparse(path, dense=True)
    zeros = {n: (p == 0) for n, p in model.named_parameters()}
    for n, p in back.named_parameters():
        if n.endswith("weight") and "encoder.layer" in n and p.dim() == 2:
            assert torch.equal(p == 0, zeros[n]), n  # pruned entries stay exactly zero
        torch.testing.assert_close(p, dict(model.named_parameters())[n].to(store).float())


def test_storage_errors(model, tmp_path):
    with pytest.raises(InputError, match="dtype must be one of"):
        save_sparse(model, tmp_path / "x.safetensors", dtype=torch.int8)
    with pytest.raises(InputError, match="dtype must be one of"):
        save_sparse(model, tmp_path / "x.safetensors", dtype="half")
    MagnitudePruner(model).prune_to(0.9)
    with torch.no_grad():
        model.bert.encoder.layer[0].output.dense.weight[0, 0] = 1e6  # > float16's 65504
    with pytest.raises(InputError, match="overflows"):
        save_sparse(model, tmp_path / "x.safetensors", dtype=torch.float16)
    save_sparse(model, tmp_path / "b.safetensors", dtype=torch.bfloat16)  # its range suffices


def test_wide_matrix_keeps_int32_columns(tmp_path):
    from safetensors import safe_open

    torch.manual_seed(0)
    wide = nn.Sequential(nn.Linear(40_000, 3))
    with torch.no_grad():
        wide[0].weight[torch.rand_like(wide[0].weight) < 0.9] = 0
    save_sparse(wide, tmp_path / "w.safetensors", patterns=r"weight$")
    with safe_open(str(tmp_path / "w.safetensors"), framework="pt") as f:
        col = f.get_tensor("0.weight.col_indices")
        vals = f.get_tensor("0.weight.values")
        crow = f.get_tensor("0.weight.crow_indices")
    assert col.dtype == torch.int32 and int(col.max()) > torch.iinfo(torch.int16).max
    rebuilt = torch.sparse_csr_tensor(crow, col, vals, size=(3, 40_000)).to_dense()
    assert torch.equal(rebuilt, wide[0].weight.detach())


def test_load_rejects_other_files(tmp_path):
    from safetensors.torch import save_file

    p = tmp_path / "x.safetensors"
    save_file({"a": torch.ones(2)}, str(p))
    with pytest.raises(DataError, match="format"):
        load_sparse(p)
    with pytest.raises(DataError):
        load_sparse(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(DataError):
        load_sparse(tmp_path / "junk.safetensors")
