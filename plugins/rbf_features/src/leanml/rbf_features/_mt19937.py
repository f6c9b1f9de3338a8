"""The Mersenne Twister stream of Numba's ``np.random``, in a state array the caller owns.

Dual CD shuffles its active rows every epoch (LIBLINEAR's random order). Drawing with Numba's
``np.random.randint`` costs 7.7 ns a draw here, mostly the per-call lookup of the thread's
generator: on shuttle at R = 16 the shuffles took up to 1.4 ms of the 1.9 ms solve. This
module reproduces the same MT19937 stream (Numba's seeding, its NumPy-style bounded integers:
the low bits of one 32-bit draw, rejected until below the bound) with the state held in a
local array, so the permutations, and hence every fitted model, are bit-identical to those
of ``np.random.seed(seed); np.random.randint(...)``; the tests compare the two draw by draw.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_N, _M = 624, 397
_I = 2 * _N  # where the state keeps the index of the next output


@njit(cache=True, nogil=True)
def mt_seed(seed):
    """MT19937 state for ``seed`` (as Numba's ``np.random.seed``): the 624 words, the block's
    624 tempered outputs, and the index of the next output."""
    mt = np.empty(2 * _N + 1, dtype=np.uint32)
    s = np.uint32(seed & 0xFFFFFFFF)
    for pos in range(_N):
        mt[pos] = s
        s = np.uint32(np.uint32(1812433253) * (s ^ (s >> np.uint32(30))) + np.uint32(pos + 1))
    mt[_I] = _N  # the next draw regenerates the block
    return mt


@njit(cache=True, nogil=True, inline="always")
def _next_block(mt):
    # inlined: as a call, the shuffle below ran 2.5x slower (measured). The block's outputs
    # are tempered in one vectorised pass, not draw by draw (the shuffle 1.3x faster).
    up, lo, one = np.uint32(0x80000000), np.uint32(0x7FFFFFFF), np.uint32(1)
    a = np.uint32(0x9908B0DF)
    for k in range(_N - _M):
        y = (mt[k] & up) | (mt[k + 1] & lo)
        mt[k] = mt[k + _M] ^ (y >> one) ^ (a * (y & one))
    for k in range(_N - _M, _N - 1):
        y = (mt[k] & up) | (mt[k + 1] & lo)
        mt[k] = mt[k + _M - _N] ^ (y >> one) ^ (a * (y & one))
    y = (mt[_N - 1] & up) | (mt[0] & lo)
    mt[_N - 1] = mt[_M - 1] ^ (y >> one) ^ (a * (y & one))
    for k in range(_N):
        y = mt[k]
        y ^= y >> np.uint32(11)
        y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
        y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
        y ^= y >> np.uint32(18)
        mt[_N + k] = y


@njit(cache=True, nogil=True, inline="always")
def _draw(mt, idx):
    # one 32-bit output; the caller keeps idx in a register and stores it back
    if idx >= _N:
        _next_block(mt)
        idx = 0
    return idx + 1, mt[_N + idx]


@njit(cache=True, nogil=True, inline="always")
def _below(mt, idx, n):
    # Numba's np.random.randint(n): n == 1 draws nothing; else the low bits of one 32-bit
    # draw (beyond 2^32: a masked high word, then a low word), rejected until below n
    if n == 1:
        return idx, 0
    mask = np.uint64(n - 1)  # the smallest all-ones mask >= n - 1
    mask |= mask >> np.uint64(1)
    mask |= mask >> np.uint64(2)
    mask |= mask >> np.uint64(4)
    mask |= mask >> np.uint64(8)
    mask |= mask >> np.uint64(16)
    mask |= mask >> np.uint64(32)
    while True:
        if mask > np.uint64(0xFFFFFFFF):
            idx, high = _draw(mt, idx)
            idx, low = _draw(mt, idx)
            r = np.int64(((np.uint64(high) & (mask >> np.uint64(32))) << np.uint64(32)) | low)
        else:
            idx, word = _draw(mt, idx)
            r = np.int64(np.uint64(word) & mask)
        if r < n:
            return idx, r


@njit(cache=True, nogil=True)
def randbelow(mt, n):
    """Numba's ``np.random.randint(n)`` (0 <= r < n, n >= 1), drawn from the state ``mt``."""
    idx, r = _below(mt, np.int64(mt[_I]), n)
    mt[_I] = idx
    return r


@njit(cache=True, nogil=True)
def shuffle(index, active, mt):
    """LIBLINEAR's shuffle of ``index[:active]``: swap s with s + randint(active - s)."""
    idx = np.int64(mt[_I])
    for s in range(active):
        idx, r = _below(mt, idx, active - s)
        j = s + r
        index[s], index[j] = index[j], index[s]
    mt[_I] = idx
