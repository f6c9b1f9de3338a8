from __future__ import annotations

import itertools

import pytest

from leanml.core import ParameterError
from leanml.prune_kd.schedule import CubicSchedule


@pytest.mark.parametrize(
    "T,K,t0", [(100, 10, 0), (3420, 12, 0), (50, 50, 5), (7, 3, 2), (12, 12, 0)]
)
def test_endpoints_update_count_and_monotone(T, K, t0):
    s = CubicSchedule(0.9, T, K, start_step=t0)
    assert len(s.update_steps) == K
    assert len(set(s.update_steps)) == K
    assert list(s.update_steps) == sorted(s.update_steps)
    assert s.update_steps[0] > t0 and s.update_steps[-1] == t0 + T
    assert s.sparsity_at(0) == 0.0
    assert s.sparsity_at(t0 + T - 1) < 0.9
    assert s.sparsity_at(t0 + T) == 0.9  # snapped exactly
    vals = [s.sparsity_at(t) for t in range(t0 + T + 3)]
    assert all(b >= a for a, b in itertools.pairwise(vals))
    assert s.updates_done(t0 + T + 10) == K


def test_cubic_values_match_formula():
    s = CubicSchedule(0.8, 40, 4, initial_sparsity=0.1)
    for k in range(5):
        assert s.sparsity_of_update(k) == pytest.approx(0.8 + (0.1 - 0.8) * (1 - k / 4) ** 3)
    assert s.update_steps == (10, 20, 30, 40)


@pytest.mark.parametrize(
    "kw",
    [
        {"final_sparsity": 1.0, "prune_steps": 10},
        {"final_sparsity": -0.1, "prune_steps": 10},
        {"final_sparsity": 0.5, "prune_steps": 0},
        {"final_sparsity": 0.5, "prune_steps": 5, "n_updates": 6},
        {"final_sparsity": 0.5, "prune_steps": 5, "n_updates": 0},
        {"final_sparsity": 0.5, "prune_steps": 5, "initial_sparsity": 0.6},
        {"final_sparsity": 0.5, "prune_steps": 5, "start_step": -1},
    ],
)
def test_bad_schedules(kw):
    with pytest.raises(ParameterError):
        CubicSchedule(**kw)


def test_prune_steps_beyond_training():
    with pytest.raises(ParameterError, match="only 10 steps"):
        CubicSchedule(0.9, 10, 5, start_step=1).check_total(10)
    CubicSchedule(0.9, 10, 5).check_total(10)
