"""The 0.2.2 fast paths against independent references: the row-order generator against a
Python-integer splitmix64, a table built by probing every row, ``type_of_target`` /
``np.unique``, and a NumPy digest."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from sklearn.utils.multiclass import type_of_target

from leanml.rbf_features import RBClassifier, _digest, _kernels, _reference
from leanml.rbf_features._shuffle import randbelow, seed_state, shuffle
from leanml.rbf_features.estimators import _integer_classes, _label_kind


@njit
def _draws(seed, bounds):
    state = seed_state(seed)
    out = np.empty(len(bounds), dtype=np.int64)
    for i in range(len(bounds)):
        out[i] = randbelow(state, bounds[i])
    return out


def test_splitmix64_is_the_published_generator():
    # splitmix64's first output for seed 0 (the reference implementation's known value)
    assert _reference.splitmix64_outputs(0, 1) == [0xE220A8397B1DCDAF]


@pytest.mark.parametrize("seed", [0, 1, 123_456_789, 2**62 + 5])
def test_bounded_draws_equal_the_python_reference_draw_for_draw(seed):
    rng = np.random.default_rng(seed % 2**32)
    special = [1, 2, 3, 2**31 + 1, 2**32 - 1, 2**32, 2**32 + 1, 2**40 + 7, 2**62]
    bounds = np.concatenate(
        [
            special,
            rng.integers(2**31, 2**31 + 50, 500),  # about half of the draws rejected
            rng.integers(1, 2**20, 2000),
            rng.integers(2**32, 2**45, 200),  # above 2^32: the modulo path
        ]
    ).astype(np.int64)
    assert np.array_equal(_draws(seed, bounds), _reference.splitmix_draws(seed, bounds))


def test_bounded_draws_are_uniform():
    counts = np.bincount(_draws(7, np.full(70_000, 7, dtype=np.int64)), minlength=7)
    chi2 = ((counts - 10_000) ** 2 / 10_000).sum()
    assert chi2 < 30  # 6 degrees of freedom: P(chi2 >= 30) ~ 4e-5 for a uniform stream


def test_shuffle_permutes_only_the_active_prefix_and_moves_on():
    index = np.arange(3000)
    state = seed_state(3)
    shuffle(index, 2500, state)  # a shrunk active set, as dual CD's shrinking leaves
    first = index.copy()
    assert np.array_equal(np.sort(first[:2500]), np.arange(2500))
    assert np.array_equal(first[2500:], np.arange(2500, 3000))
    shuffle(index, 2500, state)  # the next epoch draws a different order
    assert not np.array_equal(index, first)
    again = np.arange(3000)
    shuffle(again, 2500, seed_state(3))
    assert np.array_equal(again, first)  # same seed, same order


def _probe_all_rows_table(keys, local, kappa):
    """The tables as 0.2.1 built them: every row probed in order, new keys inserted."""
    starts = [0]
    for k in kappa:
        cap = 16
        while cap < 2 * k:
            cap *= 2
        starts.append(starts[-1] + cap)
    tk = np.full(starts[-1], np.uint64(2**64 - 1), dtype=np.uint64)
    tid = np.full(starts[-1], -1, dtype=np.int32)
    for r in range(keys.shape[1]):
        lo, cap = starts[r], starts[r + 1] - starts[r]
        for i in range(keys.shape[0]):
            k = keys[i, r]
            slot = int(k) & (cap - 1)
            while tk[lo + slot] != k and tk[lo + slot] != np.uint64(2**64 - 1):
                slot = (slot + 1) & (cap - 1)
            if tk[lo + slot] != k:
                tk[lo + slot], tid[lo + slot] = k, local[r, i]
    return tk, tid, np.array(starts)


@pytest.mark.parametrize("chunks", [1, 3, 64])
def test_fit_bins_tables_equal_probing_every_row(digits_X, chunks):
    from leanml.rbf_features import RandomBinningFeatures

    rb = RandomBinningFeatures(9, sigma=3.0, random_state=2).fit(digits_X)
    keys = rb._keys(digits_X)
    local, kappa, tk, tid, start = _kernels.fit_bins(keys, chunks)
    local_ref, kappa_ref = _reference.fit_bins(digits_X, *rb.grid_parameters)
    assert np.array_equal(local, local_ref) and np.array_equal(kappa, kappa_ref)
    for got, want in zip((tk, tid, start), _probe_all_rows_table(keys, local, kappa), strict=True):
        assert np.array_equal(got, want)


@pytest.mark.parametrize(
    "y",
    [
        np.array([0, 1, 1, 0]),
        np.array([3, -2, 7, 3], dtype=np.int8),
        np.array([-100, 100, 5], dtype=np.int8),
        np.array([1.0, 2.0, 3.0]),
        np.array([-1.0, 1.0]),
        np.array([0.5, 1.0]),
        np.array([1e30, 0.0]),
        np.array([True, False, True]),
        np.array([2**62, 3], dtype=np.uint64),
        np.array([2**64 - 2, 2**64 - 1], dtype=np.uint64),
        np.array([np.iinfo(np.int64).min, 0, np.iinfo(np.int64).max]),
        np.array(["a", "b", "a"]),
        np.array([[0, 1], [1, 0]]),
        np.array([4]),
    ],
)
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast")
def test_label_kind_equals_type_of_target_and_unique(y):
    kind, found = _label_kind(y)
    assert kind == type_of_target(y)
    if found is not None:
        classes, encoded = np.unique(y, return_inverse=True)
        assert np.array_equal(found[0], classes) and found[0].dtype == classes.dtype
        assert np.array_equal(found[1], encoded)


def test_integer_classes_by_counting_equal_unique(rng):
    for y in (rng.integers(-3, 4, 500), rng.integers(0, 10, 50).astype(np.uint8)):
        classes, encoded = _integer_classes(y)
        ref = np.unique(y, return_inverse=True)
        assert np.array_equal(classes, ref[0]) and classes.dtype == ref[0].dtype
        assert np.array_equal(encoded, ref[1])
    assert _integer_classes(np.array([0, 10**6])) is None  # a sparse range: np.unique


@pytest.mark.parametrize("m", [0, 1, 3, 4, 5, 6, 7, 8, 1001])
def test_digest_kernel_equals_numpy_reference(m, rng):
    words = rng.integers(0, 2**64, m, dtype=np.uint64)
    assert _digest.digest_words(words, _digest._SEEDS) == _reference.digest_words(
        words, _digest._SEEDS
    )


def test_fingerprint_tells_every_change(rng):
    X, y = rng.normal(size=(300, 7)), rng.integers(0, 3, 300)
    key = _digest.fingerprint(X, y)
    assert _digest.fingerprint(X.copy(), y.copy()) == key
    changed = [
        X.reshape(7, 300),  # the same bytes, another shape
        X.astype(np.float32),
        np.where(np.arange(X.size).reshape(X.shape) == 1000, np.nextafter(X, np.inf), X),
        X * np.where(np.isin(np.arange(X.size), [3, 4]), -1, 1).reshape(X.shape),  # 2 signs
        X[::-1],
    ]
    assert all(_digest.fingerprint(Xc, y) != key for Xc in changed)
    y2 = y.copy()
    y2[-1] = (y2[-1] + 1) % 3  # the last word: the tail lanes
    assert _digest.fingerprint(X, y2) != key
    assert _digest.fingerprint(X[:, :5], y) != _digest.fingerprint(X[:, :5], y[:299])


def test_cold_fit_then_warm_start_reuses_the_dual(banana):
    X, y = banana.X_train[:800], banana.y_train[:800]
    model = RBClassifier(16, sigma=1.0, random_state=0).fit(X, y)
    model.set_params(warm_start=True, n_grids=24)
    with np.testing.assert_no_warnings():
        model.fit(X, y)  # the cold fit's fingerprint matches: no "data changed" warning
