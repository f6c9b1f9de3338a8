"""leanml hook implementations for Binary Matching Pursuit (lazy: imports nothing heavy)."""

from __future__ import annotations

from collections.abc import Callable

import click

from leanml.core import DatasetSpec, DemoSpec, MetricSpec, ModelSpec, SolverSpec, hookimpl
from leanml.core.commands import LazyGroup

from .files import INDIAN_PINES, INDIAN_PINES_GT, INDIAN_PINES_LICENCE

_PKG = "leanml.bmp"
_INPUTS = ("dense", "tensor")
_TASKS = ("tensor",)


@hookimpl
def register_models(register: Callable[[ModelSpec], None]) -> None:
    """BMP and the tensor-decomposition peers it is compared against."""
    register(
        ModelSpec(
            name="bmp",
            summary="Binary Matching Pursuit: binary codes x real features (+ intercept)",
            factory=f"{_PKG}.estimators:BinaryLatentFeatures",
            solvers={"bmp-mixing": {}},
            tasks=_TASKS,
            inputs=_INPUTS,
        )
    )
    peers = [
        ("peer-tensorly-cp", "TensorLy parafac (CP-ALS), rank R", "CPPeer"),
        ("peer-tensorly-nn-cp", "TensorLy non_negative_parafac, rank R", "nonneg_cp"),
        ("peer-tensorly-tucker", "TensorLy tucker (HOOI), ranks (r, ..., r)", "TuckerPeer"),
        ("peer-sklearn-nmf-unfold", "scikit-learn NMF on the mode-1 unfolding, rank R", "NMFPeer"),
    ]
    for name, summary, attr in peers:
        register(
            ModelSpec(
                name=name,
                summary=summary,
                factory=f"{_PKG}.peers:{attr}",
                tasks=_TASKS,
                inputs=_INPUTS,
            )
        )


@hookimpl
def register_solvers(register: Callable[[SolverSpec], None]) -> None:
    """Boolean QP solvers: max z'Cz + b'z over {0,1}^n."""
    entries = [
        ("bmp-mixing", "bqp:solve_bqp", "low-rank mixing SDP + hyperplane rounding + 1-flip"),
        ("bmp-exhaustive", "bqp:solve_bqp_exhaustive", "exact Gray-code enumeration, n <= 24"),
        ("bmp-sdp-scs", "peers:sdp_bound", "cvxpy + SCS SDP bound, same rounding (extra sdp)"),
        ("bmp-anneal", "peers:anneal_bqp", "dwave-samplers simulated annealing (extra anneal)"),
    ]
    for name, ref, summary in entries:
        register(
            SolverSpec(name=name, summary=summary, solve=f"{_PKG}.{ref}", problem="boolean-qp")
        )


@hookimpl
def register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Indian Pines, digits as a tensor, planted binary codes."""
    register(
        DatasetSpec(
            name="indian-pines",
            summary="AVIRIS Indian Pines, pixels x 200 bands (reconstruction)",
            loader=f"{_PKG}.datasets:load_indian_pines",
            task="tensor",
            source=str(INDIAN_PINES),
            licence=INDIAN_PINES_LICENCE,
            size="21,025 x 200 (145 x 145 image)",
            files=(INDIAN_PINES, INDIAN_PINES_GT),
        )
    )
    register(
        DatasetSpec(
            name="digits-tensor",
            summary="scikit-learn digits as a 1797 x 8 x 8 tensor (reconstruction)",
            loader=f"{_PKG}.datasets:load_digits_tensor",
            task="tensor",
            source="scikit-learn==1.9.1:sklearn/datasets/data/digits.csv.gz",
            licence="BSD-3-Clause (scikit-learn); data: UCI, CC BY 4.0",
            size="1,797 x 8 x 8",
        )
    )
    register(
        DatasetSpec(
            name="bmp-planted",
            summary="seeded planted binary codes, 400 x 12 x 12, K0 = 5",
            loader=f"{_PKG}.datasets:load_planted",
            task="tensor",
            source="generated: leanml.bmp.synthetic.planted_codes",
            licence="generated",
            size="400 x 12 x 12",
        )
    )


@hookimpl
def register_metrics(register: Callable[[MetricSpec], None]) -> None:
    """Reconstruction errors for the tensor task."""
    register(
        MetricSpec(
            name="tensor_rmse",
            summary="RMSE over every entry of the reconstructed tensor",
            func=f"{_PKG}.metrics:tensor_rmse",
            greater_is_better=False,
            needs="labels",
            tasks=_TASKS,
            default_for=_TASKS,
        )
    )
    register(
        MetricSpec(
            name="relative_error",
            summary="||X - Xhat||_F / ||X||_F",
            func=f"{_PKG}.metrics:relative_error",
            greater_is_better=False,
            needs="labels",
            tasks=_TASKS,
            default_for=_TASKS,
        )
    )


@hookimpl
def register_demos(register: Callable[[DemoSpec], None]) -> None:
    """BMP vs CP vs NMF at equal bytes on an Indian Pines crop."""
    register(
        DemoSpec(
            name="bmp",
            summary="Indian Pines crop: BMP vs CP vs Tucker vs NMF, RMSE at equal bytes",
            run=f"{_PKG}.demo:run_demo",
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    """`leanml bmp ...`."""
    cli.add_command(
        LazyGroup(
            "bmp",
            f"{_PKG}.cli:bmp",
            help="Binary Matching Pursuit: binary tensor codes, MAXCUT-style BQP solver.",
        )
    )
