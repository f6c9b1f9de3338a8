"""The paper's central claim on Fashion-MNIST (slow: ~3 CPU-minutes; not in CI).

    pytest tests/test_acceptance.py -m slow -s

One process, same data: the FLOPs model (λ = 3) and the L1 model (λ = 0.03), both 10 epochs
of the same MLP + 256-d ReLU head, reach a similar mean nnz per row; the FLOPs model must
walk at least 2x fewer postings per query (measured by the index over the 60,000 training
rows with the 10,000 test queries) with recall@1 within 1 point of L1's.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from leanml.core import load_dataset
from leanml.core.threads import thread_limits
from leanml.sparse_retrieval import SparseRetriever, to_csr


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs apt-get (Debian package)")
def test_flops_needs_half_the_postings_of_l1_at_equal_nnz():
    data = load_dataset("fashion_mnist")
    out = {}
    with thread_limits(1):
        for reg, lam in (("flops", 3.0), ("l1", 0.03)):
            m = SparseRetriever(reg, lam=lam, epochs=10, batch_size=256, random_state=0)
            m.fit(data.X_train, data.y_train)
            Q = to_csr(m.transform(data.X_test))
            _, ids, touched = m.index_.search(Q, 1, return_touched=True)
            r1 = float(np.mean(m.db_labels_[ids[:, 0]] == data.y_test))
            nnz = m.index_.nnz / m.index_.ntotal
            out[reg] = {"nnz": nnz, "postings": float(touched.mean()), "recall@1": r1,
                        **m.flops_stats_}  # fmt: skip
            print(reg, lam, out[reg])
    f, l1 = out["flops"], out["l1"]
    assert abs(f["nnz"] - l1["nnz"]) / l1["nnz"] < 0.15  # "equal nnz": within 15 %
    assert l1["postings"] / f["postings"] >= 2.0
    assert f["recall@1"] >= l1["recall@1"] - 0.01
