"""`leanml bmp ...`: fit, maxcut, compare."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from leanml.core import InputError, ParameterError
from leanml.core.console import echo, print_rows, progress

__all__ = ["bmp"]


def _settings(ctx: click.Context) -> Any:
    obj = ctx.find_root().obj
    if obj is None:  # invoked outside `leanml` (tests calling the group directly)
        from leanml.core.cli import Settings

        obj = Settings()
    return obj


def _load_tensor(source: str, crop: int | None, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """A registered tensor data set (whole, not split) or a .npy / .npz file."""
    from . import datasets

    if source == "indian-pines":
        cube, gt = datasets.indian_pines_cube(crop)
        H, W, B = cube.shape
        return cube.reshape(H * W, B), {"image_shape": (H, W), "gt": gt, "name": source}
    if source == "digits-tensor":
        return datasets.digits_tensor()[0], {"name": source}
    if source == "bmp-planted":
        from .synthetic import planted_dataset

        return planted_dataset(seed), {"name": source}
    path = Path(source)
    if not path.exists():
        raise InputError(
            f"{source!r} is neither a data set (indian-pines, digits-tensor, bmp-planted) "
            "nor an existing .npy/.npz file"
        )
    if path.suffix == ".npy":
        X = np.load(path, allow_pickle=False)
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            if "X" not in f:
                raise InputError(f"{path} has no array named 'X' (found {', '.join(f.files)})")
            X = f["X"]
    else:
        raise InputError(f"{path}: expected a .npy or .npz file")
    return X, {"name": path.stem}


_SOURCE = click.option(
    "--dataset",
    "-d",
    "source",
    required=True,
    help="indian-pines, digits-tensor, bmp-planted, or a .npy / .npz (array 'X') file.",
)
_CROP = click.option(
    "--crop", type=click.IntRange(min=1), help="Indian Pines: keep the top-left CROP x CROP pixels."
)


@click.group("bmp")
def bmp() -> None:
    """Binary Matching Pursuit (arXiv:1810.04754): binary tensor codes and a BQP solver."""


@bmp.command("fit")
@_SOURCE
@_CROP
@click.option("--atoms", "-k", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--lam", type=float, default=1e-2, show_default=True, help="lambda / score_1.")
@click.option("--tau", type=float, default=1.0, show_default=True)
@click.option("--feature-rank", type=click.IntRange(min=1), help="CP rank of each feature.")
@click.option("--max-bytes", type=click.IntRange(min=1), help="Storage budget in bytes.")
@click.option(
    "--model",
    type=click.Choice(["features", "tucker"]),
    default="features",
    show_default=True,
    help="features: codes on mode 1, real feature tensors (A); tucker: codes on several "
    "modes, continuous core (B).",
)
@click.option(
    "--coded-modes",
    default="0",
    show_default=True,
    help="--model tucker: comma-separated coded modes (0-based; Indian Pines as 145x145x200).",
)
@click.option("--maps/--no-maps", default=True, help="Code-map image for hyperspectral data.")
@click.pass_context
def fit_cmd(
    ctx: click.Context,
    source: str,
    crop: int | None,
    atoms: int,
    lam: float,
    tau: float,
    feature_rank: int | None,
    max_bytes: int | None,
    model: str,
    coded_modes: str,
    maps: bool,
) -> None:
    """Fit BMP to a tensor: codes, features, RMSE and bytes (saved as .npz)."""
    from .estimators import BinaryLatentFeatures

    settings = _settings(ctx)
    X, info = _load_tensor(source, crop, settings.seed)
    try:
        modes = tuple(int(m) for m in coded_modes.split(",") if m.strip())
    except ValueError:
        raise ParameterError(f"--coded-modes must be integers, got {coded_modes!r}") from None
    if model == "tucker" and "image_shape" in info:  # the image cube, so pixels rows/cols
        X = np.asarray(X).reshape((*info.pop("image_shape"), -1))
    estimator = BinaryLatentFeatures(
        n_atoms=atoms,
        lam=lam,
        tau=tau,
        feature_rank=feature_rank,
        max_bytes=max_bytes,
        model=model,
        coded_modes=modes,
        random_state=settings.seed,
    )
    t0 = time.perf_counter()
    estimator.fit(X)
    seconds = time.perf_counter() - t0
    X = np.asarray(X, dtype=float)
    rmse = float(np.sqrt(np.mean((estimator.reconstruct() - X) ** 2)))
    row = {
        "data": info["name"],
        "shape": "x".join(map(str, X.shape)),
        "model": model,
        "atoms": estimator.n_atoms_,
        "stop": estimator.stop_reason_,
        "rmse": rmse,
        "relative error": float(np.linalg.norm(estimator.reconstruct() - X) / np.linalg.norm(X)),
        "bytes": estimator.storage_bytes(),
        "raw float32 bytes": 4 * X.size,
        "fit s": seconds,
    }
    print_rows("bmp fit", [row])
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bmp-fit-{info['name']}"
    extra = {}
    if model == "tucker":
        extra = {f"codes_mode{m}": c for m, c in zip(modes, estimator.mode_codes_, strict=True)}
        extra["core"] = estimator.core_.astype(np.float32)
    np.savez_compressed(
        out / f"{stem}.npz",
        codes=np.packbits(estimator.codes_, axis=0),
        n_rows=estimator.codes_.shape[0],
        features=estimator.features_.astype(np.float32),
        intercept=estimator.intercept_.astype(np.float32),
        **extra,
    )
    (out / f"{stem}.json").write_text(json.dumps(row, indent=2) + "\n")
    echo(f"model: {out / stem}.npz (codes bit-packed along rows)")
    if maps and "image_shape" in info and estimator.n_atoms_:
        from .experiments import code_maps_figure

        path = code_maps_figure(
            estimator.codes_, info["image_shape"], info.get("gt"), out / f"{stem}-codes.png"
        )
        echo(f"code maps: {path}")


@bmp.command("maxcut")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rank", type=click.IntRange(min=1), help="Mixing rank k (default sqrt(2n)+1).")
@click.option("--rounds", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--sweeps", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--no-local-search", is_flag=True, help="Report the plain rounding.")
@click.option("--sdp/--no-sdp", default=True, help="cvxpy + SCS bound when n <= --sdp-max.")
@click.option("--sdp-max", type=click.IntRange(min=1), default=300, show_default=True)
@click.option("--exact", is_flag=True, help="Also run the exhaustive search (n <= 24).")
@click.pass_context
def maxcut_cmd(
    ctx: click.Context,
    path: Path,
    rank: int | None,
    rounds: int,
    sweeps: int,
    no_local_search: bool,
    sdp: bool,
    sdp_max: int,
    exact: bool,
) -> None:
    """Maximise z'Cz + b'z over {0,1}^n from PATH.

    PATH is a .npy square matrix C, or a .npz with C (n x n) or P (n x D, C = PP') and
    optionally b (n,).
    """
    from .bqp import solve_bqp, solve_bqp_exhaustive

    settings = _settings(ctx)
    C = P = b = None
    if path.suffix == ".npy":
        C = np.load(path, allow_pickle=False)
    elif path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            C = f["C"] if "C" in f else None
            P = f["P"] if "P" in f else None
            b = f["b"] if "b" in f else None
        if C is None and P is None:
            raise InputError(f"{path} holds neither 'C' nor 'P'")
    else:
        raise InputError(f"{path}: expected .npy (C) or .npz (C or P, and b)")
    res = solve_bqp(
        C,
        b,
        P=P,
        rank=rank,
        n_rounds=rounds,
        max_sweeps=sweeps,
        local_search=not no_local_search,
        random_state=settings.seed,
    )
    n = len(res.z)
    rows = [
        {
            "solver": "mixing",
            "n": n,
            "value": res.value,
            "bound": res.sdp_value,
            "ones": int(res.z.sum()),
            "seconds": res.seconds,
        }
    ]
    dense = C if C is not None else None
    if (sdp or exact) and dense is None:
        dense = np.asarray(P, float) @ np.asarray(P, float).T
    if sdp and n <= sdp_max:
        try:
            from .peers import sdp_bound

            s = sdp_bound(dense, b, n_rounds=rounds, random_state=settings.seed, eps=1e-5)
            rows.append(
                {
                    "solver": "sdp (cvxpy+SCS)",
                    "n": n,
                    "value": s.value,
                    "bound": s.sdp_value,
                    "ones": int(s.z.sum()),
                    "seconds": s.seconds,
                }
            )
        except ParameterError as exc:
            echo(f"no SDP bound: {exc}")
    if exact:
        e = solve_bqp_exhaustive(dense, b)
        rows.append(
            {
                "solver": "exhaustive",
                "n": n,
                "value": e.value,
                "bound": e.value,
                "ones": int(e.z.sum()),
                "seconds": e.seconds,
            }
        )
    print_rows(f"max z'Cz + b'z on {path.name}", rows)
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / f"maxcut-{path.stem}-z.npy", res.z)
    echo(f"z: {out / f'maxcut-{path.stem}-z.npy'}")


@bmp.command("compare")
@_SOURCE
@_CROP
@click.option(
    "--atoms",
    default="2,4,8,16",
    show_default=True,
    help="Comma-separated BMP atom budgets; peers get the same bytes.",
)
@click.option(
    "--peers",
    default="cp,tucker,nmf",
    show_default=True,
    help="Comma-separated: cp, tucker, nmf, nn-cp.",
)
@click.option("--plot/--no-plot", default=True, help="Save the RMSE-versus-bytes figure.")
@click.pass_context
def compare_cmd(
    ctx: click.Context, source: str, crop: int | None, atoms: str, peers: str, plot: bool
) -> None:
    """RMSE against storage bytes for BMP and its peers, in one process."""
    from .experiments import PEERS, rmse_bytes_figure, rmse_vs_bytes

    settings = _settings(ctx)
    try:
        budgets = [int(a) for a in atoms.split(",") if a.strip()]
    except ValueError:
        raise ParameterError(f"--atoms must be comma-separated integers, got {atoms!r}") from None
    if not budgets or min(budgets) < 1:
        raise ParameterError("--atoms needs at least one integer >= 1")
    names = [p.strip() for p in peers.split(",") if p.strip()]
    unknown = sorted(set(names) - set(PEERS))
    if unknown:
        raise ParameterError(f"unknown peer(s) {', '.join(unknown)}; choose from {PEERS}")
    X, info = _load_tensor(source, crop, settings.seed)
    rows = rmse_vs_bytes(
        np.asarray(X, dtype=float),
        budgets,
        names,
        image_shape=info.get("image_shape"),
        seed=settings.seed,
        progress=progress,
    )
    print_rows(f"RMSE vs bytes on {info['name']}", rows)
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    stem = f"bmp-compare-{info['name']}"
    (out / f"{stem}.json").write_text(json.dumps(rows, indent=2) + "\n")
    echo(f"record: {out / stem}.json")
    if plot:
        fig = rmse_bytes_figure(rows, out / f"{stem}.png", f"{info['name']}: RMSE vs bytes")
        echo(f"figure: {fig}")
