"""Pre-train -> fine-tune -> prune on a packaged corpus: the demo and the README runs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .methods import PruneConfig, run_method
from .pretrain import encode, pretrain_mlm, train_wordpiece
from .tasks import TextTask
from .training import TrainConfig

__all__ = ["Pipeline", "PipelineSettings", "plot_histories"]


@dataclass
class PipelineSettings:
    """Sizes of the small-scale protocol (research notes section 7)."""

    vocab_size: int = 3000
    tokenizer_docs: int = 4000
    mlm_docs: int = 6400
    mlm_epochs: int = 1
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    max_length: int = 64
    batch_size: int = 16
    teacher_epochs: int = 8
    student_epochs: int = 8
    teacher_lr: float = 1e-3
    student_lr: float = 1e-3
    mlm_lr: float = 1e-3
    n_updates: int = 10
    evals_per_epoch: int = 1
    seed: int = 0


@dataclass
class Pipeline:
    """Holds the tokenizer, the pre-trained encoder and the fine-tuned teacher of one task.

    Parameters
    ----------
    task
        The labelled task and its unlabelled corpus.
    settings
        Sizes and learning rates.
    echo, progress
        Output callbacks (``leanml.core.console``).
    """

    task: TextTask
    settings: PipelineSettings = field(default_factory=PipelineSettings)
    echo: Callable[[str], None] = print
    progress: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        s = self.settings
        torch.manual_seed(s.seed)
        t0 = time.perf_counter()
        self.tokenizer = train_wordpiece(
            self.task.unlabeled[: s.tokenizer_docs], s.vocab_size, max_length=s.max_length
        )
        self.train = encode(
            self.tokenizer, self.task.train_texts, s.max_length, self.task.train_labels
        )
        self.dev = encode(self.tokenizer, self.task.dev_texts, s.max_length, self.task.dev_labels)
        self.echo(
            f"WordPiece vocabulary of {len(self.tokenizer)} ({time.perf_counter() - t0:.1f} s)"
        )

    def pretrain(self) -> torch.nn.Module:
        """MLM pre-training on the corpus's unlabelled training texts."""
        s = self.settings
        t0 = time.perf_counter()
        docs = self.task.unlabeled[: s.mlm_docs]
        cfg = TrainConfig(
            epochs=s.mlm_epochs,
            batch_size=32,
            lr=s.mlm_lr,
            lr_schedule="linear",
            warmup_steps=10,
            seed=s.seed,
            log_every=25,
        )
        self.pretrained, res = pretrain_mlm(
            docs,
            self.tokenizer,
            s.hidden_size,
            s.num_layers,
            s.num_heads,
            s.max_length,
            config=cfg,
            progress=self.progress,
        )
        self.mlm_log = res.log
        self.echo(
            f"MLM pre-training: {len(docs)} documents, {res.steps} steps, final loss "
            f"{res.log[-1]['loss']:.3f} ({time.perf_counter() - t0:.1f} s)"
        )
        return self.pretrained

    def config(self, epochs: int, lr: float, seed: int | None = None) -> TrainConfig:
        """Training settings for the labelled task."""
        s = self.settings
        spe = -(-len(self.train) // s.batch_size)
        return TrainConfig(
            epochs=epochs,
            batch_size=s.batch_size,
            lr=lr,
            seed=s.seed if seed is None else seed,
            eval_every=max(1, spe // s.evals_per_epoch),
            log_every=max(1, spe // 2),
        )

    def finetune_teacher(self) -> Any:
        """The dense teacher: pre-trained encoder + classifier, cross-entropy."""
        s = self.settings
        t0 = time.perf_counter()
        res = run_method(
            "dense",
            self.train,
            pretrained=self.pretrained,
            dev_data=self.dev,
            num_labels=len(self.task.label_names),
            config=self.config(s.teacher_epochs, s.teacher_lr),
            progress=self.progress,
        )
        self.teacher = res.model
        self.teacher_result = res
        self.echo(
            f"teacher dev accuracy {res.dev['accuracy']:.3f} ({time.perf_counter() - t0:.1f} s)"
        )
        return res

    def student(self, method: str, sparsity: float, seed: int | None = None) -> Any:
        """Train one method's student at ``sparsity``."""
        s = self.settings
        t0 = time.perf_counter()
        res = run_method(
            method,
            self.train,
            teacher=self.teacher,
            pretrained=self.pretrained,
            dev_data=self.dev,
            prune=PruneConfig(sparsity=sparsity, n_updates=s.n_updates),
            config=self.config(s.student_epochs, s.student_lr, seed),
            progress=self.progress,
        )
        res.seconds = time.perf_counter() - t0
        return res


def plot_histories(
    histories: dict[str, Sequence[dict[str, Any]]], path: str | Path, title: str
) -> Path | None:
    """Dev accuracy against training step per method; ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, hist in histories.items():
        ax.plot(
            [h["epoch"] for h in hist], [h["dev_accuracy"] for h in hist], marker="o", label=name
        )
    ax.set_xlabel("epoch (of each run; the students are separate runs after the teacher)")
    ax.set_ylabel("dev accuracy")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def claim_experiment(
    seeds: Sequence[int] = (0, 1, 2),
    sparsity: float = 0.9,
    methods: Sequence[str] = ("sparsebert", "magnitude", "torch-prune", "small-dense"),
    n_train: int = 400,
    settings: PipelineSettings | None = None,
    echo: Callable[[str], None] = print,
    progress: Callable[..., Any] | None = None,
) -> list[dict[str, Any]]:
    """The paper's claim at small scale: one tiny BERT pre-trained on 20 Newsgroups texts,
    then per seed a fine-tuned teacher and every method's student at ``sparsity``.

    Returns one row per (seed, method) with dev/train accuracy and sparsity.
    """
    from .tasks import make_task
    from .training import evaluate

    settings = settings or PipelineSettings()
    rows = []
    base = None
    for seed in seeds:
        task = make_task("20ng", n_train=n_train, n_dev=800, seed=seed)
        s = PipelineSettings(**{**settings.__dict__, "seed": seed})
        pipe = Pipeline(task, s, echo=echo, progress=progress)
        if base is None:  # one pre-trained encoder (and vocabulary) for every seed
            pipe.settings.seed = 0
            base = (pipe.tokenizer, pipe.pretrain())
            pipe.settings.seed = seed
        else:
            pipe.tokenizer, pipe.pretrained = base
            from .pretrain import encode

            pipe.train = encode(base[0], task.train_texts, s.max_length, task.train_labels)
            pipe.dev = encode(base[0], task.dev_texts, s.max_length, task.dev_labels)
        teacher = pipe.finetune_teacher()
        results = {"dense": teacher}
        for method in methods:
            results[method] = pipe.student(method, sparsity)
        for method, res in results.items():
            row = {
                "seed": seed,
                "method": method,
                "dev_accuracy": res.dev["accuracy"],
                "train_accuracy": evaluate(res.model, pipe.train)["accuracy"],
                **res.sparsity,
            }
            rows.append(row)
            echo(json.dumps(row))
    return rows
