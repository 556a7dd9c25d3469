"""The per-realisation DISH and FSSH kernels, written once for both methods and run two ways: compiled by numba
(cached on disk, realisations spread over the cores) or interpreted (the plain-Python reference backend).

One realisation is :func:`_realisation`: propagate, measure the populations, then the method's step rule
(:func:`_dish_step` or :func:`_fssh_step`, sharing the state draw :func:`_choose` and the Boltzmann test
:func:`_attempt`), record. The kernels reach each other and ``_uniform`` / ``_alloc`` through module globals: where
numba is installed these are rebound to compiled versions, and the plain backend runs the same code objects in a
namespace of plain-Python helpers. Flattened inputs: ure/uim (L n n), e_mid (L n), inv_tau (n n), as flat arrays
(numba) or lists (plain Python).
"""

from __future__ import annotations

import math
import types

import numpy as np

from aiida_qdots.analysis.surface_hopping.random_numbers import GAMMA, MIX1, MIX2, uniform_python

try:  # optional accelerator: the same per-realisation code compiled, realisations spread over the cores
    import numba
except ImportError:  # pragma: no cover - exercised where numba is missing
    numba = None


def _propagate(ure, uim, base, n, cre, cim, nre, nim):
    for i in range(n):
        acc_re = 0.0
        acc_im = 0.0
        row = base + i * n
        for j in range(n):
            acc_re += ure[row + j] * cre[j] - uim[row + j] * cim[j]
            acc_im += ure[row + j] * cim[j] + uim[row + j] * cre[j]
        nre[i] = acc_re
        nim[i] = acc_im
    for i in range(n):
        cre[i] = nre[i]
        cim[i] = nim[i]


def _populations(n, cre, cim, p):
    """|c_i|^2 into ``p``; returns their sum (the norm)."""
    norm = 0.0
    for i in range(n):
        p[i] = cre[i] * cre[i] + cim[i] * cim[i]
        norm += p[i]
    return norm


def _record(col, active, n, cre, cim, active_row, pop_sum):
    active_row[col] = active
    for i in range(n):
        pop_sum[col, i] += cre[i] * cre[i] + cim[i] * cim[i]


def _weight_sum(weights, n, skip):
    """Sum of the positive ``weights`` except that of state ``skip``."""
    total = 0.0
    for j in range(n):
        if j != skip and weights[j] > 0.0:
            total += weights[j]
    return total


def _choose(weights, n, skip, threshold):
    """First state (not ``skip``, positive weight) whose cumulative weight exceeds ``threshold``; the last such state
    when none does (rounding).
    """
    cumulative = 0.0
    target = -1
    last = -1
    for j in range(n):
        if j != skip and weights[j] > 0.0:
            cumulative += weights[j]
            last = j
            if target < 0 and threshold < cumulative:
                target = j
    return last if target < 0 else target


def _attempt(e_mid, idx, n, active, target, key, counter, beta):
    """Hop attempt ``active`` -> ``target`` (rule 6): down always, up by dE with probability exp(-beta dE).
    Returns (active state after it, hops, rejected hops).
    """
    gap = e_mid[idx * n + target] - e_mid[idx * n + active]
    if gap <= 0.0 or _uniform(key, counter) < math.exp(-gap * beta):
        return target, 1, 0
    return active, 0, 1


def _dish_step(s, key, idx, n, dt, beta, e_mid, inv_tau, active, norm, p, cre, cim, clock):
    """DISH rules 3-7 after step ``s``: advance the clocks (in steps), then at most one decoherence event with its
    hop attempt. Returns (active state, events, hops, rejected hops).
    """
    for i in range(n):
        clock[i] += 1.0
    best = -1
    best_ratio = 1.0
    for i in range(n):
        rate = 0.0
        for j in range(n):
            if j != i:
                rate += p[j] * inv_tau[i * n + j]
        ratio = clock[i] * dt * rate
        if ratio >= 1.0 and (best < 0 or ratio > best_ratio):
            best = i
            best_ratio = ratio
    if best < 0:
        return active, 0, 0, 0
    rest = _weight_sum(p, n, best)
    target = active
    collapse = -1
    if _uniform(key, 4 * s + 1) * norm < p[best] or rest <= 0.0:
        target = best  # projected in
        collapse = best
    else:  # projected out
        if active == best:
            target = _choose(p, n, best, _uniform(key, 4 * s + 2) * rest)
        scale = 1.0 / math.sqrt(rest)
        cre[best] = 0.0
        cim[best] = 0.0
        for i in range(n):
            cre[i] *= scale
            cim[i] *= scale
        clock[best] = 0.0
    hops = 0
    rejected = 0
    if target != active:
        active, hops, rejected = _attempt(e_mid, idx, n, active, target, key, 4 * s + 3, beta)
        if rejected:
            collapse = active
    if collapse >= 0:
        for i in range(n):
            cre[i] = 0.0
            cim[i] = 0.0
            clock[i] = 0.0
        cre[collapse] = 1.0
    else:
        nonzero = 0
        for i in range(n):
            if cre[i] != 0.0 or cim[i] != 0.0:
                nonzero += 1
        if nonzero == 1:
            for i in range(n):
                clock[i] = 0.0
    return active, 1, hops, rejected


def _fssh_step(s, key, idx, n, beta, e_mid, active, p, previous, gain):
    """Fewest switches after step ``s``: leave the active state with probability -dP_a / P_a for a state drawn by
    its population gain. Returns (active state, events (0), hops, rejected hops); ``previous`` becomes ``p``.
    """
    hops = 0
    rejected = 0
    loss = previous[active] - p[active]
    if loss > 0.0 and _uniform(key, 4 * s + 1) * previous[active] < loss:
        for j in range(n):
            gain[j] = p[j] - previous[j]
        total = _weight_sum(gain, n, active)
        if total > 0.0:
            target = _choose(gain, n, active, _uniform(key, 4 * s + 2) * total)
            active, hops, rejected = _attempt(e_mid, idx, n, active, target, key, 4 * s + 3, beta)
    for i in range(n):
        previous[i] = p[i]
    return active, 0, hops, rejected


def _realisation(decoherent, problem, start, key, active_row, pop_sum):
    """One realisation started at interval ``start``, DISH when ``decoherent`` else FSSH, recorded into
    ``active_row`` (n_out,) and added into ``pop_sum`` (n_out, n). ``problem``: (ure, uim, e_mid, inv_tau, n,
    dt, beta, initial state, n_steps, record_every). Returns (hops, decoherence events, rejected hops, largest
    |norm - 1|).
    """
    ure, uim, e_mid, inv_tau, n, dt, beta, initial, n_steps, record_every = problem
    n_frames = len(e_mid) // n
    cre = _alloc(n)
    cim = _alloc(n)
    nre = _alloc(n)
    nim = _alloc(n)
    p = _alloc(n)
    memory = _alloc(n)  # DISH: the decoherence clocks; FSSH: the populations before the step
    gain = _alloc(n)
    cre[initial] = 1.0
    if not decoherent:
        memory[initial] = 1.0
    active = initial
    hops = 0
    events = 0
    rejected = 0
    worst = 0.0
    _record(0, active, n, cre, cim, active_row, pop_sum)
    col = 0
    countdown = record_every
    idx = start
    for s in range(n_steps):
        _propagate(ure, uim, idx * n * n, n, cre, cim, nre, nim)
        norm = _populations(n, cre, cim, p)
        if abs(norm - 1.0) > worst:
            worst = abs(norm - 1.0)
        if decoherent:
            active, event, hop, refused = _dish_step(
                s, key, idx, n, dt, beta, e_mid, inv_tau, active, norm, p, cre, cim, memory
            )
        else:
            active, event, hop, refused = _fssh_step(s, key, idx, n, beta, e_mid, active, p, memory, gain)
        events += event
        hops += hop
        rejected += refused
        idx += 1
        if idx == n_frames:
            idx = 0
        countdown -= 1
        if countdown == 0:
            countdown = record_every
            col += 1
            _record(col, active, n, cre, cim, active_row, pop_sum)
    return hops, events, rejected, worst


def _zeros_list(n):
    return [0.0] * n


_uniform = uniform_python
_alloc = _zeros_list
_KERNELS = (_propagate, _populations, _record, _weight_sum, _choose, _attempt, _dish_step, _fssh_step, _realisation)


def _plain_namespace() -> dict:
    """The kernels as plain-Python functions that call each other and the plain helpers (the reference backend)."""
    namespace = {**globals(), '_uniform': uniform_python, '_alloc': _zeros_list}
    for kernel in _KERNELS:
        namespace[kernel.__name__] = types.FunctionType(kernel.__code__, namespace, kernel.__name__)
    return namespace


_plain_realisation = _plain_namespace()['_realisation']


def run_python(decoherent, ure, uim, e_mid, inv_tau, dt, beta, start, keys, initial, n_steps, record_every, active_out):
    """Plain-Python reference backend: the realisations one after the other, interpreted. ``ure``/``uim`` (L, n, n),
    ``e_mid`` (L, n), ``inv_tau`` (n, n). Fills ``active_out`` (R, n_out); returns hops, decoherence events,
    rejected hops and the largest |norm - 1| (R,) each, and the sum over realisations of |c_i|^2 (n_out, n).
    """
    n = ure.shape[1]
    pop_sum = np.zeros((active_out.shape[1], n))
    flat = [array.reshape(-1).tolist() for array in (ure, uim, e_mid, inv_tau)]
    problem = (*flat, n, dt, beta, initial, n_steps, record_every)
    outcome = [
        _plain_realisation(decoherent, problem, int(start[r]), int(keys[r]), active_out[r], pop_sum)
        for r in range(start.size)
    ]
    hops, events, rejected, worst = (np.array(column) for column in zip(*outcome, strict=True))
    return hops, events, rejected, worst, pop_sum


if numba is not None:
    _GAMMA_U64, _MIX1_U64, _MIX2_U64 = np.uint64(GAMMA), np.uint64(MIX1), np.uint64(MIX2)
    _S11, _S27, _S30, _S31 = np.uint64(11), np.uint64(27), np.uint64(30), np.uint64(31)

    @numba.njit(cache=True)
    def _uniform(key, counter):
        z = key + np.uint64(counter) * _GAMMA_U64
        z = (z ^ (z >> _S30)) * _MIX1_U64
        z = (z ^ (z >> _S27)) * _MIX2_U64
        z = z ^ (z >> _S31)
        return float(z >> _S11) * 2.0**-53

    @numba.njit(cache=True)
    def _alloc(n):
        return np.zeros(n)

    # Rebinding the module globals makes the compiled kernels call each other's compiled versions; inlined into one
    # loop, since as separate calls (arrays passed and reference-counted every step) a run takes twice as long.
    globals().update({kernel.__name__: numba.njit(cache=True, inline='always')(kernel) for kernel in _KERNELS})

    @numba.njit(parallel=True, cache=True)
    def _parallel(decoherent, problem, start, keys, chunk_bounds, active_out, pop_sum, hops, events, rejected, worst):
        for chunk in numba.prange(chunk_bounds.size - 1):
            for r in range(chunk_bounds[chunk], chunk_bounds[chunk + 1]):
                h, e, x, w = _realisation(decoherent, problem, start[r], keys[r], active_out[r], pop_sum[chunk])
                hops[r] = h
                events[r] = e
                rejected[r] = x
                worst[r] = w


def run_numba(decoherent, ure, uim, e_mid, inv_tau, dt, beta, start, keys, initial, n_steps, record_every, active_out):
    """The compiled kernels, realisations in chunks over numba's threads (4 chunks a thread, each with its own slot
    of the population sums); inputs and returns as :func:`run_python`.
    """
    n = ure.shape[1]
    n_real = start.size
    n_chunks = max(1, min(n_real, 4 * numba.get_num_threads()))
    bounds = np.linspace(0, n_real, n_chunks + 1).round().astype(np.int64)
    pop_sum = np.zeros((n_chunks, active_out.shape[1], n))
    hops = np.zeros(n_real, dtype=np.int64)
    events = np.zeros(n_real, dtype=np.int64)
    rejected = np.zeros(n_real, dtype=np.int64)
    worst = np.zeros(n_real)
    flat = tuple(array.reshape(-1) for array in (ure, uim, e_mid, inv_tau))
    problem = (*flat, n, dt, beta, initial, n_steps, record_every)
    _parallel(decoherent, problem, start, keys, bounds, active_out, pop_sum, hops, events, rejected, worst)
    return hops, events, rejected, worst, pop_sum.sum(axis=0)
