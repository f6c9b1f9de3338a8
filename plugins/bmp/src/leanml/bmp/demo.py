"""`leanml demo bmp`: an Indian Pines crop, BMP vs CP vs Tucker vs NMF at equal bytes."""

from __future__ import annotations

from typing import Any

from leanml.core import DemoContext

__all__ = ["run_demo"]


def run_demo(ctx: DemoContext) -> list[dict[str, Any]]:
    """RMSE-versus-bytes curves and the learned code maps, saved as PNG in ``ctx.out``.

    Quick mode: a 32 x 32 crop and K in (2, 4, 8); full: 64 x 64 and K in (2, 4, 8, 16, 24).
    """
    from . import _kernels
    from .datasets import indian_pines_cube
    from .estimators import BinaryLatentFeatures
    from .experiments import code_maps_figure, rmse_bytes_figure, rmse_vs_bytes

    crop, atoms = (32, (2, 4, 8)) if ctx.quick else (64, (2, 4, 8, 16, 24))
    _kernels.warm()  # compile (or load) the kernels before anything is timed
    cube, gt = indian_pines_cube(crop)
    X = cube.reshape(crop * crop, -1)
    ctx.echo(f"Indian Pines {crop} x {crop} crop, {X.shape[1]} bands; BMP codes the pixels")
    rows = rmse_vs_bytes(
        X,
        atoms,
        ("cp", "tucker", "nmf"),
        image_shape=(crop, crop),
        seed=ctx.seed,
        progress=ctx.progress,
    )
    fig = rmse_bytes_figure(rows, ctx.out / "rmse_vs_bytes.png", f"Indian Pines {crop}x{crop}")
    ctx.echo(f"figure: {fig}")
    model = BinaryLatentFeatures(n_atoms=max(atoms), random_state=ctx.seed).fit(X)
    maps = code_maps_figure(model.codes_, (crop, crop), gt, ctx.out / "code_maps.png")
    ctx.echo(f"code maps: {maps}")
    return rows
