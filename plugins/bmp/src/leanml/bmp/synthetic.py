"""Seeded synthetic tensors with planted binary codes and features."""

from __future__ import annotations

import numpy as np

from leanml.core import ParameterError

__all__ = ["planted_codes", "planted_dataset", "planted_identifiable"]


def planted_codes(
    n_rows: int = 300,
    feature_shape: tuple[int, ...] = (12, 12),
    n_atoms: int = 5,
    density: float = 0.3,
    noise: float = 0.05,
    disjoint: bool = True,
    seed: int = 0,
    signed: bool = True,
    offset: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X = Z0 W0 + noise with Bernoulli(density) codes Z0 and features W0.

    Parameters
    ----------
    n_rows
        N, rows (the coded mode).
    feature_shape
        (D1, ..., Dm) of each feature tensor.
    n_atoms
        K0, planted atoms.
    density
        P(z_ik = 1).
    noise
        Standard deviation of the Gaussian noise.
    disjoint
        Give the features disjoint supports (contiguous blocks of the flattened feature
        tensor, values in ±[0.5, 1.5]), the identifiable setting of the LFL experiments;
        otherwise dense N(0, 1) features.
    seed
        Seed.
    signed
        Disjoint feature values of random sign (else all positive).
    offset
        Constant added to X (an intercept; with ``signed=False`` and offset well above the
        noise, X is positive, so non-negative peers apply).

    Returns
    -------
    X, Z0, W0
        X (N, *feature_shape), Z0 (N, K0) bool, W0 (K0, *feature_shape).
    """
    if n_rows < 1 or n_atoms < 1 or not 0 < density < 1 or noise < 0:
        raise ParameterError("need n_rows >= 1, n_atoms >= 1, 0 < density < 1, noise >= 0")
    rng = np.random.default_rng(seed)
    D = int(np.prod(feature_shape))
    Z0 = rng.random((n_rows, n_atoms)) < density
    if disjoint:
        if D < n_atoms:
            raise ParameterError("disjoint features need prod(feature_shape) >= n_atoms")
        W0 = np.zeros((n_atoms, D))
        blocks = np.array_split(rng.permutation(D), n_atoms)
        for k, idx in enumerate(blocks):
            sign = rng.choice([-1.0, 1.0], len(idx)) if signed else np.ones(len(idx))
            W0[k, idx] = sign * rng.uniform(0.5, 1.5, len(idx))
    else:
        W0 = rng.standard_normal((n_atoms, D))
    X = offset + Z0.astype(float) @ W0 + noise * rng.standard_normal((n_rows, D))
    shape = (n_rows, *feature_shape)
    return X.reshape(shape), Z0, W0.reshape((n_atoms, *feature_shape))


def planted_identifiable(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The calibrated identifiable instance: N = 300, K0 = 4, 12 x 12 disjoint features,
    density 0.3, noise 0.05, with the first four rows forced to code 0 (zero rows present)."""
    X, Z0, W0 = planted_codes(300, (12, 12), 4, 0.3, 0.05, True, seed)
    rng = np.random.default_rng(seed + 1)
    noise = 0.05 * rng.standard_normal((4, 144)).reshape(4, 12, 12)
    Z0[:4] = False
    X[:4] = noise
    return X, Z0, W0


def planted_dataset(seed: int = 0) -> np.ndarray:
    """The registered ``bmp-planted`` tensor: 400 x 12 x 12, K0 = 5 codes of density 0.3,
    disjoint positive features, offset 1, noise 0.05 (positive, so every peer applies)."""
    return planted_codes(400, (12, 12), 5, 0.3, 0.05, True, seed, signed=False, offset=1.0)[0]
