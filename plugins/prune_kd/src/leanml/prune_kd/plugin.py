"""leanml hook implementations for prune_kd (lazy: imports nothing heavy)."""

from __future__ import annotations

from collections.abc import Callable

import click

from leanml.core import DemoSpec, ModelSpec, hookimpl
from leanml.core.commands import LazyGroup

_PKG = "leanml.prune_kd"


_SUMMARIES = {
    "sparsebert": "BERT: prune pre-trained weights while distilling the fine-tuned teacher",
    "magnitude": "BERT: cubic magnitude pruning of the fine-tuned model, cross-entropy",
    "torch-prune": "BERT peer: torch.nn.utils.prune L1 one-shot, then fine-tune",
    "small-dense": "BERT: narrower dense student with as many weights, distilled",
    "dense": "BERT: the dense fine-tuned teacher",
    "spd": "BERT: sparse progressive distillation (module replacement, three stages)",
}


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """The six methods as text classifiers (each fit fine-tunes a teacher first)."""
    for name, summary in _SUMMARIES.items():
        register(
            ModelSpec(
                name=name,
                summary=summary,
                factory=f"{_PKG}.estimators:PrunedBertClassifier",
                defaults={"method": name},
                tasks=("classification",),
                inputs=("texts",),
            )
        )


@hookimpl
def register_demos(register: Callable[[DemoSpec], None]) -> None:
    """Dense vs magnitude vs SparseBERT vs SPD at 90% on a tiny BERT."""
    register(
        DemoSpec(
            name="prune-kd",
            summary="tiny BERT: dense vs magnitude vs SparseBERT vs SPD at 90%",
            run=f"{_PKG}.demo:run_demo",
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    """`leanml prune-kd ...`."""
    cli.add_command(
        LazyGroup(
            "prune-kd",
            f"{_PKG}.cli:prune_kd",
            help="Sparse BERT by pruning while distilling (SparseBERT, NAACL 2021; SPD, ACL 2022).",
        )
    )
