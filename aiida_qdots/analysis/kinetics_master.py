"""Master equation of the Auger / cooling / trapping model (:mod:`aiida_qdots.analysis.kinetics`): exact means and
variances over (hot h, free c) states.

**States** (h, c) with h + c <= n_max, where initial numbers N0 with Poisson probability below
:data:`POISSON_TAIL` are left out. Ordered by n = h + c descending, then h descending, every event leads to a
later state (cooling keeps n and lowers h; every other event lowers n), so the generator Q is lower triangular.

**Rewards.** The deposited energy and the trapped-pair count grow by a fixed amount per event (the event's
kind). Their means are integrals of the reward flux phi_s = sum over events from s of rate x reward, carried by
one accumulator each; their second moments by the joint moments m_s = E[X 1{state s}], with
dm/dt = Q m + W p (W: rate x reward into the target) and d E[X^2]/dt = sum_s (2 phi_s m_s + psi_s p_s),
psi_s = sum of rate x reward^2. The augmented generator stays lower triangular.

**Propagation.** ``exp(t A) y0`` at each time by the Chebyshev rational approximation of order 16 in incomplete
partial fractions (CRAM; M. Pusa, Nucl. Sci. Eng. 182, 297 (2016)): eight complex triangular solves per time,
each one pass over the sparse generator, accurate to ~1e-14 for generators with real non-positive eigenvalues (a
triangular Q has its diagonal as eigenvalues) whatever the stiffness and the time. Times in ps, energies in eV.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import sparse, stats

from aiida_qdots.analysis.kinetics_model import TRAPPED_CHANGE, KineticModel

POISSON_TAIL = 1e-10
"""Initial numbers N0 with Poisson probability below this are left out of the master equation."""
HOT_TAIL = 1e-12
"""Mean number of hot pairs below which the master equation goes on without the states that hold hot pairs."""

CRAM16_THETA = np.array(
    [
        3.509103608414918 + 8.436198985884374j,
        5.948152268951177 + 3.587457362018322j,
        -5.264971343442647 + 16.22022147316793j,
        1.419375897185666 + 10.92536348449672j,
        6.416177699099435 + 1.194122393370139j,
        4.993174737717997 + 5.996881713603942j,
        -1.413928462488886 + 13.49772569889275j,
        -10.84391707869699 + 19.27744616718165j,
    ]
)
"""Poles of the order-16 CRAM in incomplete partial fractions (Pusa 2016, table of the IPF form)."""
CRAM16_ALPHA = np.array(
    [
        5.464930576870210e3 - 3.797983575308356e4j,
        9.045112476907548e1 - 1.115537522430261e3j,
        2.344818070467641e2 - 4.228020157070496e2j,
        9.453304067358312e1 - 2.951294291446048e2j,
        7.283792954673409e2 - 1.205646080220011e5j,
        3.648229059594851e1 - 1.155509621409682e2j,
        2.547321630156819e1 - 2.639500283021502e1j,
        2.394538338734709e1 - 5.650522971778156e0j,
    ]
)
"""Residues of the IPF factors belonging to :data:`CRAM16_THETA`."""
CRAM16_ALPHA0 = 2.124853710495224e-16
"""Limit of the order-16 CRAM at infinity."""


@numba.njit(cache=True)
def _cram(indptr, indices, data, diag, times, y0, theta, alpha, alpha0):
    """exp(t A) y0 (times, size) for a strictly-lower-triangular CSR part (``indptr``, ``indices``, ``data``) plus
    ``diag`` of A, by the IPF form: y <- y + 2 Re(alpha_j (t A - theta_j)^-1 y) for each j, then alpha0 y."""
    out = np.empty((times.size, y0.size))
    x = np.empty(y0.size, np.complex128)
    y = np.empty(y0.size)
    for i in range(times.size):
        t = times[i]
        y[:] = y0
        if t > 0.0:
            for j in range(theta.size):
                for k in range(y0.size):
                    acc = y[k] + 0j
                    for e in range(indptr[k], indptr[k + 1]):
                        acc -= t * data[e] * x[indices[e]]
                    x[k] = acc / (t * diag[k] - theta[j])
                for k in range(y0.size):
                    y[k] += 2.0 * (alpha[j] * x[k]).real
            y *= alpha0
        out[i] = y
    return out


def _max_pairs(mean: float) -> int:
    return int(stats.poisson.isf(POISSON_TAIL, mean)) + 1 if mean > 0 else 0


def states(n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Hot and free counts (h, c) of the states in generator order (n = h + c descending, then h descending)."""
    n = np.repeat(np.arange(n_max, -1, -1), np.arange(n_max + 1, 0, -1))
    c = np.concatenate([np.arange(m + 1) for m in range(n_max, -1, -1)])
    return n - c, c


def state_index(n_max: int, hot, free):
    """Position of the states (``hot``, ``free``) in the order of :func:`states`."""
    n = hot + free
    return (n_max + 1) * (n_max + 2) // 2 - (n + 1) * (n + 2) // 2 + free


def transitions(model: KineticModel, n_max: int) -> tuple[np.ndarray, ...]:
    """Source and target state indices, rate (1/ps) and kind of every event of the truncated model."""
    hot, free = states(n_max)
    rates = model.rates()
    auger = free * (free - 1) * rates.pair
    moves = (
        (hot - 1, free + 1, hot * rates.cool),
        (hot - 1, free, hot * rates.trap),
        (hot, free - 1, auger * (1.0 - rates.auger_trapping)),
        (hot, free - 1, free * rates.radiative),
        (hot, free - 2, auger * rates.auger_trapping),
    )
    source, target, rate, kind = [], [], [], []
    for code, (h, c, r) in enumerate(moves):
        keep = np.flatnonzero(r > 0)
        source.append(keep)
        target.append(state_index(n_max, h[keep], c[keep]))
        rate.append(r[keep])
        kind.append(np.full(keep.size, code))
    return tuple(np.concatenate(column) for column in (source, target, rate, kind))


def augmented_generator(model: KineticModel, n_max: int, variance: bool = False):
    """Lower-triangular generator of (p, accumulators[, joint moments, second moments]): its strictly lower part
    (scipy CSR array), its diagonal, and the state each entry belongs to (-1 for the scalars); rewards: deposited
    energy (eV) and trapped pairs.

    Layout: p (D states), the reward means (R), then with ``variance`` the joint moments m_r (R blocks of D) and
    the second moments (R).
    """
    source, target, rate, kind = transitions(model, n_max)
    size = int(states(n_max)[0].size)
    rewards = np.stack([model.kind_energy_ev, TRAPPED_CHANGE.astype(float)])[:, kind]
    n_rewards = rewards.shape[0]
    diag = -np.bincount(source, weights=rate, minlength=size)
    rows, cols, vals = [target], [source], [rate]
    for r in range(n_rewards):
        rows.append(np.full(source.size, size + r))
        cols.append(source)
        vals.append(rate * rewards[r])
    total = size + n_rewards
    diagonals = [diag, np.zeros(n_rewards)]
    owner = [np.arange(size), np.full(n_rewards, -1)]
    if variance:
        for r in range(n_rewards):
            block = size + n_rewards + r * size
            second = size + n_rewards + n_rewards * size + r
            rows += [block + target, block + target, np.full(source.size, second), np.full(source.size, second)]
            cols += [block + source, source, block + source, source]
            vals += [rate, rate * rewards[r], 2.0 * rate * rewards[r], rate * rewards[r] ** 2]
        diagonals += [diag] * n_rewards + [np.zeros(n_rewards)]
        owner += [np.arange(size)] * n_rewards + [np.full(n_rewards, -1)]
        total += n_rewards * (size + 1)
    rows, cols, vals = (np.concatenate(column) for column in (rows, cols, vals))
    if np.any(cols >= rows):
        raise AssertionError('the augmented generator is not lower triangular')
    matrix = sparse.csr_array((vals, (rows, cols)), shape=(total, total))  # sums the entries of each (row, col)
    matrix.sum_duplicates()
    return matrix, np.concatenate(diagonals), np.concatenate(owner)


def propagate(lower, diag, times, start) -> np.ndarray:
    """exp(t A) ``start`` (times, size) for A = ``lower`` (strictly lower triangular, CSR) + diag(``diag``)."""
    return _cram(
        lower.indptr,
        lower.indices,
        lower.data,
        diag,
        np.asarray(times, dtype=float),
        start,
        CRAM16_THETA,
        CRAM16_ALPHA,
        CRAM16_ALPHA0,
    )


def master_equation(
    model: KineticModel,
    fluence_mj_cm2: float,
    time_ps,
    hot_start: bool = True,
    n_max: int | None = None,
    variance: bool = False,
) -> dict[str, np.ndarray]:
    """Exact mean deposited energy ``energy_ev`` (eV), ``delta_t_k`` (K), mean ``free_pairs``, ``hot_pairs`` and
    ``trapped_pairs`` at ``time_ps`` (>= 0) from a Poisson(<N>) start (all pairs hot, or all free with
    ``hot_start=False``); with ``variance`` also ``energy_var_ev2``, ``free_pairs_var`` and ``trapped_pairs_var``
    (variances over particles).
    """
    time_ps = np.asarray(time_ps, dtype=float)
    if np.any(time_ps < 0):
        raise ValueError('times must be non-negative')
    mean = model.mean_pairs(fluence_mj_cm2)
    n_max = _max_pairs(mean) if n_max is None else n_max
    hot, free = states(n_max)
    lower, diag, owner = augmented_generator(model, n_max, variance)
    start = np.zeros(diag.size)
    counts = np.arange(n_max + 1)
    initial = state_index(n_max, counts, 0) if hot_start else state_index(n_max, 0, counts)
    start[initial] = stats.poisson.pmf(counts, mean)
    # Hot pairs decay independently: <h(t)> = <N> exp(-k t). Once it is below HOT_TAIL, the states without hot
    # pairs (closed under the dynamics) carry the rest of the run: a far smaller system.
    rates = model.rates()
    handoff = np.log(mean / HOT_TAIL) / (rates.cool + rates.trap) if hot_start and mean > HOT_TAIL else 0.0
    times = np.ravel(time_ps)
    early = times < handoff
    solution = np.zeros((times.size, diag.size))
    solution[early] = propagate(lower, diag, times[early], start)
    if not early.all():
        keep = np.flatnonzero((owner < 0) | (hot[owner] == 0))
        handed = propagate(lower, diag, [handoff], start)[0] if handoff > 0 else start
        sub = lower[keep][:, keep]
        solution[np.ix_(~early, keep)] = propagate(sub, diag[keep], times[~early] - handoff, handed[keep])
    solution = solution.reshape(*time_ps.shape, diag.size)
    p = solution[..., : hot.size]
    energy, trapped = solution[..., hot.size], solution[..., hot.size + 1]
    out = {
        'energy_ev': energy,
        'delta_t_k': energy / model.heat_capacity_ev_k,
        'free_pairs': p @ free,
        'hot_pairs': p @ hot,
        'trapped_pairs': trapped,
        'n_max': np.array(n_max),
    }
    if variance:
        second = solution[..., -2:]
        out['energy_var_ev2'] = second[..., 0] - energy**2
        out['trapped_pairs_var'] = second[..., 1] - trapped**2
        out['free_pairs_var'] = p @ free.astype(float) ** 2 - out['free_pairs'] ** 2
    return out


def lattice_temperature_rise(model: KineticModel, fluence_mj_cm2: float, time_ps) -> np.ndarray:
    """dT(t) (K) of the model: mean deposited energy / heat capacity, from :func:`master_equation`."""
    return master_equation(model, fluence_mj_cm2, time_ps)['delta_t_k']
