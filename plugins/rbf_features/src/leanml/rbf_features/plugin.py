"""leanml hook implementations for Random Binning features (lazy: imports nothing heavy)."""

from __future__ import annotations

from collections.abc import Callable

import click

from leanml.core import DemoSpec, ModelSpec, SolverSpec, hookimpl
from leanml.core.commands import LazyGroup

_PKG = "leanml.rbf_features"
_CLASSIFIER = f"{_PKG}.estimators:RBClassifier"
_L1 = {"penalty": "l1", "solver": "pcd"}


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """RB estimators and the peers they are compared against."""
    both = ("dense", "sparse")
    register(
        ModelSpec(
            name="rb-svm",
            summary="Random Binning + L2 hinge SVM (dual CD)",
            factory=_CLASSIFIER,
            solvers={"rb-dcd": {"solver": "dcd"}},
            inputs=both,
        )
    )
    register(
        ModelSpec(
            name="rb-logreg",
            summary="Random Binning + L2 logistic regression (Newton)",
            factory=_CLASSIFIER,
            defaults={"loss": "logistic"},
            solvers={"rb-newton": {"solver": "newton"}, "rb-pcd": _L1},
            inputs=both,
        )
    )
    register(
        ModelSpec(
            name="rb-l1-svm",
            summary="Random Binning + L1 squared-hinge SVM (prox CD, classes in parallel)",
            factory=_CLASSIFIER,
            defaults={"loss": "squared_hinge", "penalty": "l1"},
            solvers={"rb-pcd": _L1},
            inputs=both,
        )
    )
    register(
        ModelSpec(
            name="rb-ridge",
            summary="Random Binning + ridge regression (preconditioned CG)",
            factory=f"{_PKG}.estimators:RBRegressor",
            solvers={"rb-cg": {"solver": "cg"}, "rb-bcd": {"solver": "bcd"}, "rb-pcd": _L1},
            tasks=("regression",),
            inputs=both,
        )
    )
    register(
        ModelSpec(
            name="peer-rbf-sampler-svc",
            summary="scikit-learn RBFSampler (Gaussian RFF, gamma='scale') + LinearSVC",
            factory=f"{_PKG}.peers:rbf_sampler_svc",
        )
    )
    register(
        ModelSpec(
            name="peer-nystroem-svc",
            summary="scikit-learn Nystroem(laplacian) + LinearSVC",
            factory=f"{_PKG}.peers:NystroemSVC",
        )
    )
    register(
        ModelSpec(
            name="peer-exact-laplacian-svc",
            summary="exact SVC, precomputed L1 Laplacian kernel",
            factory=f"{_PKG}.peers:ExactLaplacianSVC",
            max_train=20_000,
        )
    )
    register(
        ModelSpec(
            name="peer-exact-rbf-svc",
            summary="exact SVC, Gaussian kernel, gamma='scale' (LIBSVM)",
            factory=f"{_PKG}.peers:exact_rbf_svc",
            max_train=20_000,
        )
    )


@hookimpl
def register_solvers(register: Callable[[SolverSpec], None]) -> None:
    """Solvers on the compact RB layout (see leanml.rbf_features.solvers)."""
    entries = [
        ("rb-dcd", "solve_svm", "l2-hinge / l2-squared-hinge", "LIBLINEAR dual CD, Q_ii = 1"),
        ("rb-newton", "solve_logistic", "l2-logistic", "trust-region Newton-CG"),
        ("rb-bcd", "solve_ridge_bcd", "l2-square", "exact block CD per grid"),
        ("rb-cg", "solve_ridge_cg", "l2-square", "preconditioned conjugate gradients"),
        ("rb-pcd", "solve_l1", "l1-composite", "the paper's proximal CD, bin by bin"),
    ]
    for name, attr, problem, summary in entries:
        register(
            SolverSpec(name=name, summary=summary, solve=f"{_PKG}.solvers:{attr}", problem=problem)
        )


@hookimpl
def register_demos(register: Callable[[DemoSpec], None]) -> None:
    """RB versus peers on banana and digits."""
    register(
        DemoSpec(
            name="rbf-features",
            summary="RB vs RFF, Nystroem, exact SVC",
            run=f"{_PKG}.demo:run_demo",
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    """`leanml rbf-features ...`."""
    cli.add_command(
        LazyGroup(
            "rbf-features",
            f"{_PKG}.cli:rbf_features",
            help="Random Binning features (Wu, Yen et al., KDD 2016).",
        )
    )
