"""leanml hook implementations for representer point selection (lazy: imports no torch)."""

from __future__ import annotations

from collections.abc import Callable

import click

from leanml.core import DemoSpec, ExplainerSpec, SolverSpec, hookimpl
from leanml.core.commands import LazyGroup

_PKG = "leanml.representer"


@hookimpl
def register_explainers(register: Callable[[ExplainerSpec], None]) -> None:
    """Representer points (L2 and LJE), exact influence, and the Captum peers."""
    explainer = f"{_PKG}.explainer:RepresenterExplainer"
    register(
        ExplainerSpec(
            name="representer",
            summary="representer points of a torch classifier's L2-regularised head",
            explain=explainer,
        )
    )
    register(
        ExplainerSpec(
            name="representer-lje",
            summary="RPS-LJE: one Newton step from the perturbed head (Sui et al. 2021)",
            explain=explainer,
            defaults={"method": "lje"},
        )
    )
    register(
        ExplainerSpec(
            name="representer-influence",
            summary="exact self-influence g^T H^-1 g of each training point on the head",
            explain=f"{_PKG}.influence:self_influence",
        )
    )
    for name, kind, what in (
        ("peer-captum-naive-influence", "naive", "exact projected Hessian"),
        ("peer-captum-arnoldi-influence", "arnoldi", "Arnoldi eigenpairs of the Hessian"),
    ):
        register(
            ExplainerSpec(
                name=name,
                summary=f"Captum influence function over all layers, {what} (needs captum)",
                explain=f"{_PKG}.peers:influence_function_topk",
                defaults={"kind": kind},
            )
        )
    for name, fast, what in (
        ("peer-captum-tracincp", False, "every layer's gradients, batched per-example"),
        ("peer-captum-tracincp-fast", True, "last layer only"),
    ):
        register(
            ExplainerSpec(
                name=name,
                summary=f"Captum TracIn top-k proponents, {what} (needs captum)",
                explain=f"{_PKG}.peers:tracin_topk",
                defaults={"fast": fast},
            )
        )


@hookimpl
def register_solvers(register: Callable[[SolverSpec], None]) -> None:
    """The head re-convergence the explainers rely on."""
    register(
        SolverSpec(
            name="representer-head",
            summary="float64 truncated Newton (preconditioned CG) to a stationary head",
            solve=f"{_PKG}.head:fit_head",
            problem="l2-softmax-head",
        )
    )


@hookimpl
def register_demos(register: Callable[[DemoSpec], None]) -> None:
    """Digits MLP explanations and the flip-and-fix experiment."""
    register(
        DemoSpec(
            name="representer",
            summary="explain a digits MLP; debug flipped labels",
            run=f"{_PKG}.demo:run_demo",
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    """`leanml representer ...`."""
    cli.add_command(
        LazyGroup(
            "representer",
            f"{_PKG}.cli:representer",
            help="Representer point selection (Yeh, Kim, Yen, Ravikumar, NeurIPS 2018).",
        )
    )
