"""The overfitting experiment of SPD at small scale: methods x sparsities x labels x seeds.

One tiny BERT is pre-trained (MLM) on a corpus's unlabelled training texts; per labelled-set
size and seed a dense teacher is fine-tuned and every method's student trained from it.
Each finished cell is appended to ``cells.jsonl`` at once, and the tokenizer, the
pre-trained encoder and each teacher are saved, so a killed run resumes where it stopped and
never recomputes a finished cell (nor re-trains the WordPiece vocabulary, which
``tokenizers`` does not reproduce bit-for-bit across processes).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from leanml.core import ParameterError

from .experiments import PipelineSettings
from .methods import METHODS, PruneConfig, run_method

__all__ = [
    "GridSpec",
    "format_table",
    "grid_table",
    "load_cells",
    "plot_grid",
    "run_grid",
    "write_outputs",
]

#: Columns of the table, per (method, sparsity, labels): mean and std over seeds.
METRICS = ("train_accuracy", "dev_accuracy", "gap", "train_s", "encoder_linear_sparsity")


@dataclass
class GridSpec:
    """Which cells to run, and the fixed settings every cell shares.

    Parameters
    ----------
    methods
        Student methods (``dense``, the teacher, is always a cell at sparsity 0).
    sparsities
        Target encoder-linear sparsities :math:`s_f`, each in ``[0, 1)``.
    n_trains
        Labelled-set sizes (stratified draws from the training split).
    seeds
        Seeds of the labelled draw, the heads, dropout and data order (the pre-trained
        encoder is shared).
    n_dev
        Dev examples from the test split (per seed).
    corpus, categories
        The labelled task (see :func:`leanml.prune_kd.tasks.make_task`).
    settings
        Model sizes, epochs and learning rates.
    """

    methods: Sequence[str] = ("magnitude", "torch-prune", "sparsebert", "spd")
    sparsities: Sequence[float] = (0.5, 0.8, 0.9, 0.95)
    n_trains: Sequence[int] = (400,)
    seeds: Sequence[int] = (0, 1, 2)
    n_dev: int = 800
    corpus: str = "20ng"
    categories: Sequence[str] | None = None
    settings: PipelineSettings = field(default_factory=PipelineSettings)

    def __post_init__(self) -> None:
        bad = [m for m in self.methods if m not in METHODS or m == "dense"]
        if bad:
            raise ParameterError(
                f"unknown student methods {bad}; choose from "
                f"{', '.join(m for m in METHODS if m != 'dense')}"
            )
        for s in self.sparsities:
            if not 0.0 <= s < 1.0:
                raise ParameterError(f"sparsity must be in [0, 1), got {s}")
        if not self.methods or not self.sparsities or not self.n_trains or not self.seeds:
            raise ParameterError("methods, sparsities, n_trains and seeds must be non-empty")

    def fixed(self) -> dict[str, Any]:
        """What every cell shares; a directory holds cells of one setting only."""
        cats = None if self.categories is None else list(self.categories)
        return {
            "corpus": self.corpus,
            "categories": cats,
            "n_dev": self.n_dev,
            "settings": asdict(self.settings),
        }


def _key(method: str, sparsity: float, n_train: int, seed: int) -> str:
    return f"{method}|{sparsity:g}|{n_train}|{seed}"


def load_cells(directory: str | Path) -> list[dict[str, Any]]:
    """The finished cells in ``directory/cells.jsonl``."""
    path = Path(directory) / "cells.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_grid(
    spec: GridSpec,
    directory: str | Path,
    *,
    echo: Callable[[str], None] = print,
    progress: Callable[..., Any] | None = None,
    max_cells: int | None = None,
) -> list[dict[str, Any]]:
    """Run every unfinished cell of ``spec``, appending each to ``directory/cells.jsonl``.

    Parameters
    ----------
    spec
        The grid.
    directory
        Holds ``grid.json`` (the fixed settings), ``cells.jsonl``, ``base/`` (tokenizer and
        pre-trained encoder) and ``teachers/``. An existing directory is resumed; its fixed
        settings must equal ``spec``'s (the lists may differ: extend a grid in place).
    echo, progress
        Output callbacks.
    max_cells
        Stop after computing this many cells (a budget; the rest is left for a resume).

    Returns
    -------
    Every finished cell of the directory that belongs to ``spec``.
    """
    from .pretrain import encode

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = directory / "grid.json"
    fixed = spec.fixed()
    if meta.is_file():
        if json.loads(meta.read_text()) != json.loads(json.dumps(fixed)):
            raise ParameterError(
                f"{directory} holds a grid with other fixed settings (see {meta}); "
                "use a new directory"
            )
    else:
        meta.write_text(json.dumps(fixed, indent=2) + "\n")
    done = {c["key"] for c in load_cells(directory)}
    tokenizer, pretrained = _base(spec, directory / "base", echo, progress)
    computed = 0
    with open(directory / "cells.jsonl", "a") as log:
        for n_train in spec.n_trains:
            for seed in spec.seeds:
                cells = [("dense", 0.0)] + [
                    (m, float(s)) for m in spec.methods for s in spec.sparsities
                ]
                todo = [c for c in cells if _key(*c, n_train, seed) not in done]
                if not todo:
                    continue
                task = _task(spec, n_train, seed)
                s = spec.settings
                train = encode(tokenizer, task.train_texts, s.max_length, task.train_labels)
                dev = encode(tokenizer, task.dev_texts, s.max_length, task.dev_labels)
                tdir = directory / "teachers" / f"n{n_train}-s{seed}"
                teacher = None
                for method, sparsity in todo:
                    if max_cells is not None and computed >= max_cells:
                        return _finished(spec, directory)
                    if teacher is None:
                        teacher, dense_row = _teacher(
                            spec, tdir, pretrained, train, dev, len(task.label_names), seed
                        )
                    if method == "dense":
                        row = dense_row
                    else:
                        res = run_method(
                            method,
                            train,
                            teacher=teacher,
                            pretrained=pretrained,
                            dev_data=dev,
                            prune=PruneConfig(sparsity=sparsity, n_updates=s.n_updates),
                            config=_config(spec, len(train), s.student_epochs, s.student_lr, seed),
                            progress=progress,
                        )
                        row = _row(res, train, res.train.seconds)
                    row = {
                        "key": _key(method, sparsity, n_train, seed),
                        "method": method,
                        "sparsity": sparsity,
                        "n_train": n_train,
                        "seed": seed,
                        **row,
                    }
                    log.write(json.dumps(row) + "\n")
                    log.flush()
                    computed += 1
                    echo(
                        f"{method} s={sparsity:g} n={n_train} seed={seed}: dev "
                        f"{row['dev_accuracy']:.3f}, train {row['train_accuracy']:.3f}, "
                        f"{row['train_s']:.1f} s"
                    )
    return _finished(spec, directory)


def _finished(spec: GridSpec, directory: Path) -> list[dict[str, Any]]:
    wanted = {
        _key(m, float(s), n, seed)
        for n in spec.n_trains
        for seed in spec.seeds
        for m, s in [("dense", 0.0)] + [(m, s) for m in spec.methods for s in spec.sparsities]
    }
    return [c for c in load_cells(directory) if c["key"] in wanted]


def _task(spec: GridSpec, n_train: int, seed: int) -> Any:
    from .tasks import DEMO_CATEGORIES, make_task

    cats = spec.categories
    if cats is None and spec.corpus == "20ng":
        cats = DEMO_CATEGORIES
    return make_task(spec.corpus, cats, n_train, spec.n_dev, seed)


def _config(spec: GridSpec, n: int, epochs: int, lr: float, seed: int) -> Any:
    from .training import TrainConfig

    s = spec.settings
    spe = math.ceil(n / s.batch_size)
    return TrainConfig(
        epochs=epochs,
        batch_size=s.batch_size,
        lr=lr,
        seed=seed,
        eval_every=max(1, spe // s.evals_per_epoch),
        log_every=max(1, spe // 2),
    )


def _row(res: Any, train: Any, seconds: float) -> dict[str, Any]:
    from .training import evaluate

    train_acc = evaluate(res.model, train)["accuracy"]
    dev_acc = res.dev["accuracy"]
    return {
        "train_accuracy": train_acc,
        "dev_accuracy": dev_acc,
        "gap": train_acc - dev_acc,
        "train_s": seconds,
        "encoder_linear_sparsity": res.sparsity.get("encoder_linear_sparsity", 0.0),
        "whole_model_sparsity": res.sparsity.get("whole_model_sparsity", 0.0),
    }


def _base(
    spec: GridSpec, path: Path, echo: Callable[[str], None], progress: Callable[..., Any] | None
) -> tuple[Any, Any]:
    """The shared tokenizer and pre-trained encoder: loaded from ``path`` or trained there."""
    from .checkpoints import load_encoder, load_tokenizer
    from .pretrain import pretrain_mlm, train_wordpiece
    from .texts import load_corpus
    from .training import TrainConfig

    if (path / "config.json").is_file():
        return load_tokenizer(str(path)), load_encoder(str(path))
    s = spec.settings
    texts = load_corpus(spec.corpus)[0]
    t0 = time.perf_counter()
    tok = train_wordpiece(texts[: s.tokenizer_docs], s.vocab_size, max_length=s.max_length)
    cfg = TrainConfig(
        epochs=s.mlm_epochs,
        batch_size=32,
        lr=s.mlm_lr,
        lr_schedule="linear",
        warmup_steps=10,
        seed=s.seed,
        log_every=25,
    )
    model, res = pretrain_mlm(
        texts[: s.mlm_docs],
        tok,
        s.hidden_size,
        s.num_layers,
        s.num_heads,
        s.max_length,
        config=cfg,
        progress=progress,
    )
    path.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(str(path))
    model.save_pretrained(str(path), safe_serialization=True)  # config.json last: complete
    echo(
        f"pre-trained: {min(len(texts), s.mlm_docs)} texts, {res.steps} MLM steps, final loss "
        f"{res.log[-1]['loss']:.3f} ({time.perf_counter() - t0:.1f} s)"
    )
    return tok, load_encoder(str(path))


def _teacher(
    spec: GridSpec, path: Path, pretrained: Any, train: Any, dev: Any, num_labels: int, seed: int
) -> tuple[Any, dict[str, Any]]:
    """The fine-tuned teacher of one (labels, seed): loaded from ``path`` or trained there."""
    from .checkpoints import load_encoder

    row_file = path / "row.json"
    if row_file.is_file():
        return load_encoder(str(path), classifier=True).eval(), json.loads(row_file.read_text())
    s = spec.settings
    res = run_method(
        "dense",
        train,
        pretrained=pretrained,
        dev_data=dev,
        num_labels=num_labels,
        config=_config(spec, len(train), s.teacher_epochs, s.teacher_lr, seed),
    )
    row = _row(res, train, res.train.seconds)
    path.mkdir(parents=True, exist_ok=True)
    res.model.save_pretrained(str(path), safe_serialization=True)
    row_file.write_text(json.dumps(row) + "\n")  # written last: the teacher is complete
    return res.model, row


def grid_table(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and standard deviation (ddof 1) over seeds per (method, sparsity, labels)."""
    import numpy as np

    groups: dict[tuple[str, float, int], list[dict[str, Any]]] = {}
    for c in cells:
        groups.setdefault((c["method"], c["sparsity"], c["n_train"]), []).append(c)
    order = {m: i for i, m in enumerate(("dense", *METHODS))}
    rows = []
    for (method, sparsity, n_train), cs in sorted(
        groups.items(), key=lambda kv: (kv[0][2], kv[0][1], order.get(kv[0][0], 99))
    ):
        row: dict[str, Any] = {
            "method": method,
            "sparsity": sparsity,
            "n_train": n_train,
            "seeds": len(cs),
        }
        for m in METRICS:
            v = np.array([c[m] for c in cs], dtype=float)
            row[m] = float(v.mean())
            row[f"{m}_std"] = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        rows.append(row)
    return rows


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The table as Markdown, ``mean ± std`` over seeds."""
    head = (
        "| labels | target sparsity | method | seeds | train acc | dev acc | train − dev gap "
        "| train s | encoder-linear sparsity |\n|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        cells = [str(r["n_train"]), f"{r['sparsity']:g}", r["method"], str(r["seeds"])]
        for m, fmt in zip(METRICS, (".3f", ".3f", ".3f", ".1f", ".3f"), strict=True):
            cells.append(f"{r[m]:{fmt}} ± {r[m + '_std']:{fmt}}")
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def plot_grid(rows: Sequence[dict[str, Any]], path: str | Path) -> Path | None:
    """Dev accuracy and train − dev gap against sparsity, per method (one column per
    labelled-set size; the dense teacher as a dashed line); ``None`` without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    sizes = sorted({r["n_train"] for r in rows})
    fig, axes = plt.subplots(2, len(sizes), figsize=(4.5 * len(sizes), 7), squeeze=False)
    for j, n in enumerate(sizes):
        sub = [r for r in rows if r["n_train"] == n]
        for i, (metric, label) in enumerate(
            (("dev_accuracy", "dev accuracy"), ("gap", "train − dev accuracy gap"))
        ):
            ax = axes[i][j]
            for method in dict.fromkeys(r["method"] for r in sub):
                pts = sorted(
                    (r["sparsity"], r[metric], r[metric + "_std"])
                    for r in sub
                    if r["method"] == method
                )
                if method == "dense":
                    ax.axhline(pts[0][1], color="k", ls="--", lw=1, label="dense (teacher)")
                    continue
                xs, ys, es = zip(*pts, strict=True)
                ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=method)
            ax.set_xlabel("encoder-linear sparsity")
            ax.set_ylabel(label)
            ax.set_title(f"{n} labelled examples")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(cells: Sequence[dict[str, Any]], directory: str | Path) -> dict[str, Path]:
    """``table.md``, ``table.json`` and ``grid.png`` (if matplotlib is there) of ``cells``."""
    directory = Path(directory)
    rows = grid_table(cells)
    out = {"table_md": directory / "table.md", "table_json": directory / "table.json"}
    out["table_md"].write_text(format_table(rows))
    out["table_json"].write_text(json.dumps(rows, indent=2) + "\n")
    fig = plot_grid(rows, directory / "grid.png")
    if fig is not None:
        out["figure"] = fig
    return out
