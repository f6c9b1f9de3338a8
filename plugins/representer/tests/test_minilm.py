"""The transformer case: all-MiniLM-L6-v2 + a linear head on Reuters R8 (slow, needs [text])."""

from __future__ import annotations

import warnings

import pytest
import torch

from leanml.representer import RepresenterExplainer
from leanml.representer.fidelity import FidelityWarning

pytest.importorskip("transformers")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_minilm_head_on_r8_is_explained_faithfully():
    from leanml.representer.minilm import r8_case

    case = r8_case(n_train=400, n_test=100, max_length=64)
    rows = [
        {"input_ids": case.train["input_ids"][i], "attention_mask": case.train["attention_mask"][i]}
        for i in range(len(case.y_train))
    ]
    loader = torch.utils.data.DataLoader(rows, batch_size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FidelityWarning)
        ex = RepresenterExplainer(case.model, None, case.model.head).fit(loader, case.y_train)
    held_out = ex.fidelity(case.test)
    print(
        f"\nMiniLM on R8: test accuracy {case.test_accuracy:.3f}, lambda {ex.lmbda_:g}, "
        f"train {ex.fidelity_}, held-out {held_out}"
    )
    assert held_out["pearson"] >= 0.99 and held_out["argmax"] >= 0.98
    exp = ex.explain({k: v[:5] for k, v in case.test.items()}, k=3)
    # the logit each explanation rebuilds is the model's own, to the fit's fidelity
    logits = case.model(**{k: v[:5] for k, v in case.test.items()})["logits"].detach()
    assert exp.excitatory_index.shape == (5, 3)
    assert (exp.target == logits.argmax(1)).float().mean() >= 0.8
