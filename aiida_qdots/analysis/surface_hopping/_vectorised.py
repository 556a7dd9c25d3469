"""The NumPy backend: the steps of :mod:`._kernels` vectorised over realisations, with the same arithmetic in the
same order and the same counter-based draws, so that it gives the same hops as the per-realisation kernels.
"""

from __future__ import annotations

import numpy as np

from aiida_qdots.analysis.surface_hopping.random_numbers import uniform_numpy


def run_numpy(decoherent, ure, uim, e_mid, inv_tau, dt, beta, start, keys, initial, n_steps, record_every, active_out):
    """DISH (``decoherent``) or FSSH vectorised over realisations; inputs and returns as
    :func:`aiida_qdots.analysis.surface_hopping._kernels.run_python`.
    """
    n_real = start.size
    n_frames, n, _ = ure.shape
    pop_sum = np.zeros((active_out.shape[1], n))
    cre = np.zeros((n_real, n))
    cim = np.zeros((n_real, n))
    cre[:, initial] = 1.0
    memory = np.zeros((n_real, n)) if decoherent else cre.copy()  # DISH: the clocks; FSSH: the populations before
    active = np.full(n_real, initial, dtype=np.int64)
    hops = np.zeros(n_real, dtype=np.int64)
    events = np.zeros(n_real, dtype=np.int64)
    rejected = np.zeros(n_real, dtype=np.int64)
    worst = np.zeros(n_real)
    idx = start.astype(np.int64)
    _record(0, active, cre, cim, active_out, pop_sum)
    for s in range(n_steps):
        cre, cim = _propagate(ure, uim, idx, cre, cim)
        p = cre * cre + cim * cim
        norm = np.zeros(n_real)
        for i in range(n):
            norm = norm + p[:, i]
        worst = np.maximum(worst, np.abs(norm - 1.0))
        if decoherent:
            _dish_step(
                s, keys, idx, dt, beta, e_mid, inv_tau, active, norm, p, cre, cim, memory, hops, events, rejected
            )
        else:
            _fssh_step(s, keys, idx, beta, e_mid, active, p, memory, hops, rejected)
        idx += 1
        idx[idx == n_frames] = 0
        if (s + 1) % record_every == 0:
            _record((s + 1) // record_every, active, cre, cim, active_out, pop_sum)
    return hops, events, rejected, worst, pop_sum


def _dish_step(s, keys, idx, dt, beta, e_mid, inv_tau, active, norm, p, cre, cim, clock, hops, events, rejected):
    """DISH rules 3-7 after step ``s`` for every realisation, in place."""
    n_real, n = p.shape
    clock += 1.0
    best = np.full(n_real, -1, dtype=np.int64)
    best_ratio = np.ones(n_real)
    for i in range(n):
        rate = np.zeros(n_real)
        for j in range(n):
            if j != i:
                rate = rate + p[:, j] * inv_tau[i, j]
        ratio = clock[:, i] * dt * rate
        better = (ratio >= 1.0) & ((best < 0) | (ratio > best_ratio))
        best[better] = i
        best_ratio[better] = ratio[better]
    ev = np.flatnonzero(best >= 0)
    if not ev.size:
        return
    events[ev] += 1
    b = best[ev]
    a = active[ev]
    pe = p[ev]
    rest = _weight_sum(pe, b)
    projected_in = (uniform_numpy(keys[ev], 4 * s + 1) * norm[ev] < pe[np.arange(ev.size), b]) | (rest <= 0.0)
    target = np.where(projected_in, b, a)
    collapse = np.where(projected_in, b, -1)
    choose = ~projected_in & (a == b)
    if choose.any():
        threshold = uniform_numpy(keys[ev[choose]], 4 * s + 2) * rest[choose]
        target[choose] = _choose(pe[choose], b[choose], threshold)
    out = np.flatnonzero(~projected_in)
    if out.size:
        r_out = ev[out]
        cre[r_out, b[out]] = 0.0
        cim[r_out, b[out]] = 0.0
        scale = 1.0 / np.sqrt(rest[out])
        cre[r_out] *= scale[:, None]
        cim[r_out] *= scale[:, None]
        clock[r_out, b[out]] = 0.0
    refused = _attempt(e_mid, idx, ev, active, target, keys, 4 * s + 3, beta, hops, rejected)
    collapse[refused] = a[refused]
    collapsed = collapse >= 0
    if collapsed.any():
        r_c = ev[collapsed]
        cre[r_c] = 0.0
        cim[r_c] = 0.0
        clock[r_c] = 0.0
        cre[r_c, collapse[collapsed]] = 1.0
    if (~collapsed).any():
        r_p = ev[~collapsed]
        pure = ((cre[r_p] != 0.0) | (cim[r_p] != 0.0)).sum(axis=1) == 1
        clock[r_p[pure]] = 0.0


def _fssh_step(s, keys, idx, beta, e_mid, active, p, previous, hops, rejected):
    """Fewest switches after step ``s`` for every realisation, in place; ``previous`` becomes ``p``."""
    rows = np.arange(p.shape[0])
    loss = previous[rows, active] - p[rows, active]
    candidates = np.flatnonzero(loss > 0.0)
    draw = uniform_numpy(keys[candidates], 4 * s + 1)
    tries = candidates[draw * previous[candidates, active[candidates]] < loss[candidates]]
    gain = p[tries] - previous[tries]
    total = _weight_sum(gain, active[tries])
    go = total > 0.0
    tries, gain, total = tries[go], gain[go], total[go]
    if tries.size:
        target = _choose(gain, active[tries], uniform_numpy(keys[tries], 4 * s + 2) * total)
        _attempt(e_mid, idx, tries, active, target, keys, 4 * s + 3, beta, hops, rejected)
    previous[:] = p


def _propagate(ure, uim, idx, cre, cim):
    ur = ure[idx]
    ui = uim[idx]
    n = cre.shape[1]
    nre = np.empty_like(cre)
    nim = np.empty_like(cim)
    for i in range(n):
        acc_re = np.zeros(cre.shape[0])
        acc_im = np.zeros(cre.shape[0])
        for j in range(n):
            acc_re = acc_re + (ur[:, i, j] * cre[:, j] - ui[:, i, j] * cim[:, j])
            acc_im = acc_im + (ur[:, i, j] * cim[:, j] + ui[:, i, j] * cre[:, j])
        nre[:, i] = acc_re
        nim[:, i] = acc_im
    return nre, nim


def _allowed(weights, skip, j):
    return (j != skip) & (weights[:, j] > 0.0)


def _weight_sum(weights, skip):
    """Per row: the sum of the positive ``weights`` except that of state ``skip``."""
    total = np.zeros(weights.shape[0])
    for j in range(weights.shape[1]):
        total = total + np.where(_allowed(weights, skip, j), weights[:, j], 0.0)
    return total


def _choose(weights, skip, threshold):
    """Per row: the first state (not ``skip``, positive weight) whose cumulative weight exceeds ``threshold``; the
    last such state when none does.
    """
    cumulative = np.zeros(threshold.size)
    target = np.full(threshold.size, -1, dtype=np.int64)
    last = np.full(threshold.size, -1, dtype=np.int64)
    for j in range(weights.shape[1]):
        ok = _allowed(weights, skip, j)
        cumulative = cumulative + np.where(ok, weights[:, j], 0.0)
        last[ok] = j
        target[ok & (target < 0) & (threshold < cumulative)] = j
    return np.where(target < 0, last, target)


def _attempt(e_mid, idx, rows, active, target, keys, counter, beta, hops, rejected):
    """Hop attempts of realisations ``rows`` to ``target`` (rule 6: down always, up with the Boltzmann factor),
    applied to ``active``, ``hops`` and ``rejected``. Returns the mask of refused attempts.
    """
    n = e_mid.shape[1]
    flat = e_mid.reshape(-1)
    current = active[rows]
    hop = target != current
    gap = flat[idx[rows] * n + target] - flat[idx[rows] * n + current]
    accept = hop & (gap <= 0.0)
    up = np.flatnonzero(hop & (gap > 0.0))
    if up.size:
        accept[up] = uniform_numpy(keys[rows[up]], counter) < np.exp(-gap[up] * beta)
    active[rows[accept]] = target[accept]
    hops[rows[accept]] += 1
    refused = hop & ~accept
    rejected[rows[refused]] += 1
    return refused


def _record(col, active, cre, cim, active_out, pop_sum):
    active_out[:, col] = active
    pop_sum[col] += (cre * cre + cim * cim).sum(axis=0)
