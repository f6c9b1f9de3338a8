"""Run by tests/test_ddp.py under torchrun (2 CPU processes, gloo): one method's run.

python ddp_worker.py OUT [METHOD]   (METHOD: sparsebert, the default, or spd)
"""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist


def main(out: str, method: str = "sparsebert") -> None:
    from transformers import BertConfig, BertForSequenceClassification

    from leanml.prune_kd.methods import PruneConfig, run_method
    from leanml.prune_kd.spd import SPDConfig
    from leanml.prune_kd.training import EncodedData, TrainConfig

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        dist.init_process_group("gloo")
    torch.set_num_threads(1)
    cfg = BertConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=16,
        num_labels=3,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    torch.manual_seed(0)
    teacher = BertForSequenceClassification(cfg)
    torch.manual_seed(1)
    pre = BertForSequenceClassification(cfg)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 64, (32, 12), generator=g)
    data = EncodedData(ids, torch.ones_like(ids), torch.randint(0, 3, (32,), generator=g))
    res = run_method(
        method,
        data,
        teacher=teacher,
        pretrained=pre,
        prune=PruneConfig(sparsity=0.8, n_updates=2),
        config=TrainConfig(epochs=2, batch_size=8, lr=1e-3),
        spd=SPDConfig(replacement_rate=0.5) if method == "spd" else None,
    )
    # every rank saves: DDP must leave them identical
    torch.save(res.model.state_dict(), f"{out}.rank{os.environ.get('RANK', '0')}")
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:])
