"""Search kernels against their peers on the same data, same process, same threads.

Synthetic sparse codes (d = 256, nnz per row s ∈ {8, 32}, uniform or Zipf-skewed supports,
unit rows) are searched exactly (top-10) by the plugin's ``SparseIndex`` and by scipy's
SpGEMM and sparse-dot-topn; faiss ``IndexFlatIP`` searches dense unit vectors of d = 128 with
the same N (the dense model a user would otherwise pick). Each is timed one query per call
(``single``) and in batches of 256 (``batch``), never mixed. ``extra_info`` records F and
the postings walked. ``train_step`` times one optimiser step with each regulariser.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from leanml.sparse_retrieval import SparseIndex, expected_flops
from leanml.sparse_retrieval._reference import brute_force_topk
from leanml.sparse_retrieval.peers import make_index

D_SPARSE, D_DENSE, K, N_QUERIES = 256, 128, 10, 256


def _codes(n, s, skew, rng):
    if skew == "uniform":
        p = np.full(D_SPARSE, 1.0 / D_SPARSE)
    else:
        p = 1.0 / np.arange(1, D_SPARSE + 1) ** 1.0
        p /= p.sum()
    cols = np.array([rng.choice(D_SPARSE, s, replace=False, p=p) for _ in range(n)])
    vals = rng.random((n, s)).astype(np.float32) + 0.05
    vals /= np.linalg.norm(vals, axis=1, keepdims=True)
    return sp.csr_matrix(
        (vals.ravel(), cols.ravel(), np.arange(0, n * s + 1, s)), shape=(n, D_SPARSE)
    )


@pytest.fixture(scope="module")
def n_rows(bench_size):
    return 2_000 if bench_size == "smoke" else 200_000


@pytest.fixture(scope="module", params=[(8, "uniform"), (32, "uniform"), (32, "zipf")],
                ids=lambda p: f"nnz{p[0]}-{p[1]}")  # fmt: skip
def sparse_data(request, n_rows):
    rng = np.random.default_rng(0)
    s, skew = request.param
    return _codes(n_rows, s, skew, rng), _codes(N_QUERIES, s, skew, rng), f"nnz{s}-{skew}"


@pytest.fixture(scope="module")
def dense_data(n_rows):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n_rows + N_QUERIES, D_DENSE)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X[:n_rows], X[n_rows:]


def _single(index, queries):
    for q in queries:
        index.search(q, K)


def _batch(index, Q):
    for a in range(0, Q.shape[0], 256):
        index.search(Q[a : a + 256], K)


@pytest.mark.parametrize("mode", ["single", "batch"])
@pytest.mark.parametrize("kind", ["sparse", "sparse-t0", "scipy", "sdtopn"])
def test_sparse_search(benchmark, sparse_data, kind, mode, fixed_threads):
    """``sparse``: exact top-k; ``sparse-t0``: rows scoring > 0 only, the result set of the
    scipy and sparse-dot-topn peers."""
    D, Q, label = sparse_data
    if kind == "sparse-t0":
        index = SparseIndex(D_SPARSE, threshold=0.0, n_threads=fixed_threads)
    else:
        index = make_index(kind, D_SPARSE, n_threads=fixed_threads)
    index.add(D)
    index.search(Q[:2], K)  # warm-up: Numba compile / CSC build
    benchmark.group = f"search-{mode}-{label}"
    if mode == "single":
        queries = [Q[i : i + 1] for i in range(64)]
        benchmark(_single, index, queries)
        benchmark.extra_info["queries_per_round"] = len(queries)
    else:
        benchmark(_batch, index, Q)
        benchmark.extra_info["queries_per_round"] = Q.shape[0]
    benchmark.extra_info["F"] = expected_flops(D, Q)
    if kind.startswith("sparse"):
        _, ids, touched = index.search(Q[:32], K, return_touched=True)
        benchmark.extra_info["postings_per_query"] = float(touched.mean())
        t = 0.0 if kind == "sparse-t0" else -np.inf
        np.testing.assert_array_equal(ids, brute_force_topk(Q[:32], D, K, threshold=t)[1])


@pytest.mark.parametrize("mode", ["single", "batch"])
def test_faiss_flat_dense(benchmark, dense_data, sparse_data, mode, fixed_threads):
    D, Q = dense_data
    index = make_index("faiss-flat", D_DENSE, n_threads=fixed_threads)
    index.add(D)
    benchmark.group = f"search-{mode}-{sparse_data[2]}"
    if mode == "single":
        queries = [Q[i : i + 1] for i in range(64)]
        benchmark(_single, index, queries)
        benchmark.extra_info["queries_per_round"] = len(queries)
    else:
        benchmark(_batch, index, Q)
        benchmark.extra_info["queries_per_round"] = Q.shape[0]


@pytest.mark.parametrize("reg", ["none", "l1", "flops"])
def test_train_step(benchmark, reg):
    from leanml.sparse_retrieval import FLOPsRegularizer, L1Regularizer, SparseHead
    from leanml.sparse_retrieval.task_losses import CosineSoftmaxLoss

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), SparseHead(256, 256))
    loss = CosineSoftmaxLoss(256, 10)
    regularizer = {"none": None, "l1": L1Regularizer(0.03), "flops": FLOPsRegularizer(3.0)}[reg]
    opt = torch.optim.Adam([*net.parameters(), *loss.parameters()], lr=1e-3)
    X = torch.randn(256, 784)
    y = torch.randint(0, 10, (256,))

    def step():
        emb = net(X)
        total = loss(emb, y)
        if regularizer is not None:
            total = total + regularizer(emb)
        opt.zero_grad()
        total.backward()
        opt.step()

    benchmark.group = "train-step"
    benchmark(step)
