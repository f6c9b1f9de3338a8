"""leanml hook implementations for representer point selection."""

from __future__ import annotations

from collections.abc import Callable

import click

from leanml.core import DemoSpec, SolverSpec, hookimpl


@hookimpl
def register_solvers(register: Callable[[SolverSpec], None]) -> None:
    """The head re-convergence and the last-layer influence baselines."""
    from functools import partial

    from . import influence
    from .head import fit_head
    from .lje import lje_expand
    from .peers import tracin_topk

    register(
        SolverSpec(
            name="representer-head",
            summary="float64 truncated Newton (preconditioned CG) to a stationary head",
            solve=fit_head,
            problem="l2-softmax-head",
        )
    )
    register(
        SolverSpec(
            name="representer-influence",
            summary="exact self-influence g^T H^-1 g on the head",
            solve=influence.self_influence,
            problem="influence",
        )
    )
    register(
        SolverSpec(
            name="representer-lje",
            summary="one Newton step from the perturbed head (RPS-LJE, Sui et al. 2021)",
            solve=lje_expand,
            problem="l2-softmax-head",
        )
    )
    for name, fast, what in (
        ("peer-captum-tracincp", False, "every layer's gradients"),
        ("peer-captum-tracincp-fast", True, "last layer only"),
    ):
        register(
            SolverSpec(
                name=name,
                summary=f"Captum TracIn top-k proponents, {what} (needs captum)",
                solve=partial(tracin_topk, fast=fast),
                problem="data-attribution",
            )
        )


@hookimpl
def register_demos(register: Callable[[DemoSpec], None]) -> None:
    """Digits MLP explanations and the flip-and-fix experiment."""
    from .demo import run_demo

    register(
        DemoSpec(
            name="representer", summary="explain a digits MLP; debug flipped labels", run=run_demo
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    """`leanml representer ...`."""
    from .cli import representer

    cli.add_command(representer)
