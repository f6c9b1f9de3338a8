"""`leanml demo bmp`: an Indian Pines crop, BMP vs CP vs Tucker vs NMF at equal bytes."""

from __future__ import annotations

from typing import Any

from leanml.core import DemoContext

__all__ = ["run_demo"]


def run_demo(ctx: DemoContext) -> list[dict[str, Any]]:
    """RMSE-versus-bytes curves and the learned code maps, saved as PNG in ``ctx.out``.

    Every model runs on one thread: the tensors are small, and multi-threaded OpenBLAS calls
    this small slowed TensorLy's CP by 16x on a loaded 2-core machine.

    Quick mode: a 24 x 24 crop and K in (2, 4); full: 64 x 64 and K in (2, 4, 8, 16, 24).
    """
    from leanml.core.threads import thread_limits

    from . import _kernels
    from .datasets import indian_pines_cube
    from .experiments import code_maps_figure, rmse_bytes_figure, rmse_vs_bytes

    crop, atoms = (24, (2, 4)) if ctx.quick else (64, (2, 4, 8, 16, 24))
    _kernels.warm(fit_only=True)  # compile (or load) the kernels before anything is timed
    cube, gt = indian_pines_cube(crop)
    X = cube.reshape(crop * crop, -1)
    ctx.echo(f"Indian Pines {crop} x {crop} crop, {X.shape[1]} bands; BMP codes the pixels")
    fitted: dict[int, Any] = {}
    with thread_limits(1):
        rows = rmse_vs_bytes(
            X,
            atoms,
            ("cp", "tucker", "nmf"),
            image_shape=(crop, crop),
            seed=ctx.seed,
            progress=ctx.progress,
            fitted=fitted,
        )
    fig = rmse_bytes_figure(rows, ctx.out / "rmse_vs_bytes.png", f"Indian Pines {crop}x{crop}")
    ctx.echo(f"figure: {fig}")
    maps = code_maps_figure(fitted[max(atoms)].codes_, (crop, crop), gt, ctx.out / "code_maps.png")
    ctx.echo(f"code maps: {maps}")
    return rows
