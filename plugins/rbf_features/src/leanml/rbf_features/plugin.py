"""leanml hook implementations for Random Binning features."""

from __future__ import annotations

from collections.abc import Callable

import click

from leanml.core import DemoSpec, ModelSpec, SolverSpec, hookimpl


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """RB estimators and the peers they are compared against."""
    from .estimators import RBClassifier, RBRegressor
    from .peers import ExactLaplacianSVC, nystroem_svc, rbf_sampler_svc

    register(
        ModelSpec(
            name="rb-svm",
            summary="Random Binning + L2 hinge SVM (dual CD)",
            factory=RBClassifier,
            inputs=("dense", "sparse"),
        )
    )
    register(
        ModelSpec(
            name="rb-logreg",
            summary="Random Binning + L2 logistic regression (Newton)",
            factory=lambda **kw: RBClassifier(**{"loss": "logistic", **kw}),
            inputs=("dense", "sparse"),
        )
    )
    register(
        ModelSpec(
            name="rb-l1-svm",
            summary="Random Binning + L1 squared-hinge SVM (parallel prox CD)",
            factory=lambda **kw: RBClassifier(**{"loss": "squared_hinge", "penalty": "l1", **kw}),
            inputs=("dense", "sparse"),
        )
    )
    register(
        ModelSpec(
            name="rb-ridge",
            summary="Random Binning + ridge regression (preconditioned CG)",
            factory=RBRegressor,
            tasks=("regression",),
            inputs=("dense", "sparse"),
        )
    )
    register(
        ModelSpec(
            name="peer-rbf-sampler-svc",
            summary="scikit-learn RBFSampler (Gaussian RFF) + LinearSVC",
            factory=rbf_sampler_svc,
        )
    )
    register(
        ModelSpec(
            name="peer-nystroem-svc",
            summary="scikit-learn Nystroem(laplacian) + LinearSVC",
            factory=nystroem_svc,
        )
    )
    register(
        ModelSpec(
            name="peer-exact-laplacian-svc",
            summary="exact SVC, precomputed L1 Laplacian kernel",
            factory=ExactLaplacianSVC,
            max_train=20_000,
        )
    )


@hookimpl
def register_solvers(register: Callable[[SolverSpec], None]) -> None:
    """Solvers on the compact RB layout (see leanml.rbf_features.solvers)."""
    from . import solvers

    entries = [
        ("rb-dcd", solvers.solve_svm, "l2-hinge / l2-squared-hinge", "LIBLINEAR dual CD, Q_ii = 1"),
        ("rb-newton", solvers.solve_logistic, "l2-logistic", "trust-region Newton-CG"),
        ("rb-bcd", solvers.solve_ridge_bcd, "l2-square", "exact block CD per grid"),
        ("rb-cg", solvers.solve_ridge_cg, "l2-square", "preconditioned conjugate gradients"),
        ("rb-pcd", solvers.solve_l1, "l1-composite", "parallel proximal CD over one grid's bins"),
    ]
    for name, solve, problem, summary in entries:
        register(SolverSpec(name=name, summary=summary, solve=solve, problem=problem))


@hookimpl
def register_demos(register: Callable[[DemoSpec], None]) -> None:
    """RB versus peers on banana and digits."""
    from .demo import run_demo

    register(DemoSpec(name="rbf-features", summary="RB vs RFF, Nystroem, exact SVC", run=run_demo))


@hookimpl
def register_commands(cli: click.Group) -> None:
    """`leanml rbf-features ...`."""
    from .cli import rbf_features

    cli.add_command(rbf_features)
