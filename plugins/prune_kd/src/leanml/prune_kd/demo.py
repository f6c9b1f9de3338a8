"""`leanml demo prune-kd`: tiny BERT pre-trained on 20 Newsgroups, dense vs magnitude vs
SparseBERT vs SPD at 90% encoder-linear sparsity, with the sparsity and speed tables."""

from __future__ import annotations

import json
from typing import Any

from leanml.core import DemoContext
from leanml.core.threads import thread_limits

from .experiments import Pipeline, PipelineSettings, plot_histories
from .speed import linear_speed, model_speed
from .tasks import make_task

SPARSITY = 0.9


def run_demo(ctx: DemoContext) -> list[dict[str, Any]]:
    """Accuracy, sparsity and CPU speed of the methods on a 4-topic 20 Newsgroups task."""
    quick = ctx.quick
    with thread_limits(1):  # 2 threads on a shared 2-core box spin-wait badly
        return _run(ctx, quick)


def _run(ctx: DemoContext, quick: bool) -> list[dict[str, Any]]:
    settings = PipelineSettings(
        seed=ctx.seed,
        tokenizer_docs=1000 if quick else 4000,
        vocab_size=2000 if quick else 3000,
        mlm_docs=640 if quick else 6400,
        max_length=32 if quick else 64,
        teacher_epochs=8 if quick else 12,
        student_epochs=3 if quick else 8,
        n_updates=4 if quick else 10,
        evals_per_epoch=1 if quick else 2,
    )
    task = make_task(
        "20ng", n_train=120 if quick else 400, n_dev=120 if quick else 400, seed=ctx.seed
    )
    ctx.echo(
        f"20 Newsgroups, {len(task.label_names)} topics: {len(task.train_texts)} labelled "
        f"training / {len(task.dev_texts)} dev texts; sparsity {SPARSITY:.0%} of encoder linears"
    )
    pipe = Pipeline(task, settings, echo=ctx.echo, progress=ctx.progress)
    pipe.pretrain()
    teacher = pipe.finetune_teacher()
    rows = [_row("dense (teacher)", teacher, teacher.train.seconds)]
    histories = {"dense (teacher)": teacher.train.history}
    for method in ("magnitude", "sparsebert", "spd"):
        res = pipe.student(method, SPARSITY)
        rows.append(_row(method, res, res.seconds))
        histories[method] = res.train.history
    fig = plot_histories(
        histories,
        ctx.out / "dev_accuracy.png",
        f"tiny BERT on 20NG ({len(task.train_texts)} labels), {SPARSITY:.0%} sparse",
    )
    if fig is not None:
        ctx.echo(f"figure: {fig}")
    speed = [linear_speed(3072, 768, SPARSITY, 128, threads=1, repeats=5 if quick else 11)]
    speed.append(
        model_speed(
            pipe.teacher,
            SPARSITY,
            settings.max_length,
            batch=8,
            threads=1,
            repeats=3 if quick else 7,
        )
    )
    for s in speed:
        ctx.echo(
            f"speed {s.get('shape', s.get('model'))}, {s['tokens']} tokens, 1 thread: dense "
            f"{s['dense_ms']:.2f} ms, masked {s['masked_ms']:.2f} ms, CSR {s['csr_ms']:.2f} ms "
            f"({s['csr_speedup']:.2f}x)"
        )
    (ctx.out / "speed.json").write_text(json.dumps(speed, indent=2) + "\n")
    (ctx.out / "histories.json").write_text(json.dumps(histories, indent=2) + "\n")
    return rows


def _row(name: str, res: Any, seconds: float) -> dict[str, Any]:
    return {
        "method": name,
        "dev_accuracy": round(res.dev["accuracy"], 4),
        "encoder_linear_sparsity": round(res.sparsity["encoder_linear_sparsity"], 4),
        "whole_model_sparsity": round(res.sparsity["whole_model_sparsity"], 4),
        "train_s": round(seconds, 1),
    }
