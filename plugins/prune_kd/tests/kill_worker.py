"""Run by tests/test_kill_resume.py: a magnitude-pruning run that SIGKILLs itself at a step."""

from __future__ import annotations

import os
import signal
import sys

import torch


def main(ckdir: str, out: str, kill_at: int) -> None:
    from transformers import BertConfig, BertForSequenceClassification

    from leanml.prune_kd.pruning import MagnitudePruner
    from leanml.prune_kd.schedule import CubicSchedule
    from leanml.prune_kd.training import EncodedData, TrainConfig, train

    torch.set_num_threads(1)
    cfg = BertConfig(
        vocab_size=64,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=16,
        num_labels=3,
    )
    torch.manual_seed(0)
    model = BertForSequenceClassification(cfg)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 64, (40, 12), generator=g)
    data = EncodedData(ids, torch.ones_like(ids), torch.randint(0, 3, (40,), generator=g))
    config = TrainConfig(epochs=3, batch_size=8, lr=1e-3, seed=4, checkpoint_every=4)

    def before(step: int) -> None:
        if step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    pruner = MagnitudePruner(model, CubicSchedule(0.8, 15, 3))
    train(
        model,
        data,
        lambda m, b: {"loss": m(**b).loss},
        config,
        pruner=pruner,
        checkpoint_dir=ckdir or None,
        before_step=before,
    )
    torch.save(model.state_dict(), out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
