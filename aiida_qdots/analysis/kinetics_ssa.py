"""Gillespie SSA of the Auger / cooling / trapping model (:mod:`aiida_qdots.analysis.kinetics`), compiled with numba.

One compiled loop per realisation, realisations spread over numba's threads. Random numbers are counter-based
(splitmix64 of a per-realisation key and an event counter), and each realisation writes its events into its own
slots (at most 2 hot + free events per realisation), so a seed gives the same events whatever the thread count.
Initial pairs are drawn with :func:`numpy.random.default_rng` (``seed``). Times in ps, energies in eV.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np

from aiida_qdots.analysis.kinetics_model import FREE_CHANGE, TRAPPED_CHANGE, KineticModel

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_SEED_OFFSET = np.uint64(0x632BE59BD9B4E019)


@numba.njit(cache=True)
def _mix(z):
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True)
def _uniform(key, counter):
    """Uniform in [0, 1) from the key and counter (53 random bits)."""
    return np.float64(_mix(key + counter * _GAMMA) >> np.uint64(11)) * 2.0**-53


@numba.njit(cache=True)
def _trajectory(hot, free, rates, t_max, key, times, kinds, slot):
    """One realisation from ``hot``, ``free`` pairs: events from ``slot`` on; returns the end slot and counts."""
    cool, trap, pair, auger_trapping, radiative = rates[0], rates[1], rates[2], rates[3], rates[4]
    counter = np.uint64(0)
    trapped = 0
    t = 0.0
    while True:
        rate_cool = hot * cool
        rate_hot = rate_cool + hot * trap
        rate_auger = free * (free - 1) * pair
        total = rate_hot + rate_auger + free * radiative
        if total <= 0.0:
            break
        counter += np.uint64(1)
        t -= np.log1p(-_uniform(key, counter)) / total
        if t > t_max:
            break
        counter += np.uint64(1)
        threshold = _uniform(key, counter) * total
        if threshold < rate_cool:
            kind, hot, free = 0, hot - 1, free + 1
        elif threshold < rate_hot:
            kind, hot, trapped = 1, hot - 1, trapped + 1
        elif threshold < rate_hot + rate_auger * (1.0 - auger_trapping):
            kind, free = 2, free - 1
        elif threshold < rate_hot + rate_auger:
            kind, free, trapped = 4, free - 2, trapped + 1
        else:
            kind, free = 3, free - 1
        times[slot] = t
        kinds[slot] = kind
        slot += 1
    return slot, hot, free, trapped


@numba.njit(cache=True, parallel=True)
def _run(hot0, free0, rates, t_max, seed, offsets, times, kinds, counts, final):
    base = _mix(np.uint64(seed) * _GAMMA + _SEED_OFFSET)  # keys stay uint64: a signed operand makes numba use floats
    for r in numba.prange(hot0.size):
        key = _mix(base + np.uint64(r + 1) * _GAMMA)
        end, final[r, 0], final[r, 1], final[r, 2] = _trajectory(
            hot0[r], free0[r], rates, t_max, key, times, kinds, offsets[r]
        )
        counts[r] = end - offsets[r]


@numba.njit(cache=True)
def _compact(offsets, counts, times, kinds):
    total = counts.sum()
    out_times = np.empty(total)
    out_kinds = np.empty(total, np.int8)
    out_trajectory = np.empty(total, np.int32)
    k = 0
    for r in range(counts.size):
        for slot in range(offsets[r], offsets[r] + counts[r]):
            out_times[k] = times[slot]
            out_kinds[k] = kinds[slot]
            out_trajectory[k] = r
            k += 1
    return out_times, out_kinds, out_trajectory


@dataclasses.dataclass
class SsaResult:
    """Events of all trajectories of :func:`gillespie`: ``event_time_ps``, ``event_kind`` (codes of
    :data:`~aiida_qdots.analysis.kinetics.EVENT_KINDS`) and ``event_trajectory``; per trajectory ``n0``, the
    initial ``free0`` and the final ``hot``, ``free``, ``trapped`` counts; ``kind_energy_ev`` the lattice energy of
    each kind.
    """

    n0: np.ndarray
    free0: np.ndarray
    event_time_ps: np.ndarray
    event_kind: np.ndarray
    event_trajectory: np.ndarray
    hot: np.ndarray
    free: np.ndarray
    trapped: np.ndarray
    kind_energy_ev: np.ndarray
    t_max_ps: float

    @property
    def n_events(self) -> int:
        return int(self.event_time_ps.size)

    @property
    def event_energy_ev(self) -> np.ndarray:
        """Lattice energy (eV) of each event."""
        return self.kind_energy_ev[self.event_kind]

    def _accumulated(self, per_kind, time_ps, per_trajectory: bool) -> np.ndarray:
        """Sums of ``per_kind[kind]`` over the events up to each of ``time_ps``: over all trajectories (times,), or
        per trajectory (times, trajectories). Each event is binned by the first time at or after it, then the bins
        are accumulated (no sort of the events)."""
        times = np.asarray(time_ps, dtype=float)
        time_order = np.argsort(times.ravel())
        bins = np.searchsorted(times.ravel()[time_order], self.event_time_ps, side='left')
        columns = self.n0.size if per_trajectory else 1
        key = bins * columns + (self.event_trajectory if per_trajectory else 0)
        weights = np.asarray(per_kind, dtype=float)[self.event_kind]
        sums = np.bincount(key, weights=weights, minlength=(times.size + 1) * columns).reshape(-1, columns)
        out = np.empty((times.size, columns))
        out[time_order] = np.cumsum(sums[: times.size], axis=0)
        return out.reshape(*times.shape, columns) if per_trajectory else out.reshape(times.shape)

    def deposited_energy(self, time_ps=None) -> np.ndarray:
        """Lattice energy (eV) per trajectory up to ``t_max_ps`` (trajectories,), or up to each of ``time_ps``
        (times, trajectories)."""
        if time_ps is None:
            return np.bincount(self.event_trajectory, weights=self.event_energy_ev, minlength=self.n0.size)
        return self._accumulated(self.kind_energy_ev, time_ps, per_trajectory=True)

    def free_pairs(self, time_ps) -> np.ndarray:
        """Free (cooled, untrapped) pairs per trajectory at each of ``time_ps`` (times, trajectories)."""
        return self.free0 + self._accumulated(FREE_CHANGE, time_ps, per_trajectory=True)

    def trapped_pairs(self, time_ps) -> np.ndarray:
        """Trapped pairs per trajectory at each of ``time_ps`` (times, trajectories)."""
        return self._accumulated(TRAPPED_CHANGE, time_ps, per_trajectory=True)

    def mean_energy(self, time_ps) -> np.ndarray:
        """Mean deposited energy (eV) over trajectories at ``time_ps``."""
        return self._accumulated(self.kind_energy_ev, time_ps, per_trajectory=False) / self.n0.size

    def mean_free_pairs(self, time_ps) -> np.ndarray:
        """Mean number of free (cooled, untrapped) pairs at ``time_ps``."""
        return self.free0.mean() + self._accumulated(FREE_CHANGE, time_ps, per_trajectory=False) / self.n0.size


def gillespie(
    model: KineticModel,
    fluence_mj_cm2: float,
    n_trajectories: int,
    t_max_ps: float,
    seed: int = 0,
    n0: np.ndarray | None = None,
    hot_start: bool = True,
) -> SsaResult:
    """Gillespie SSA of ``n_trajectories`` particles up to ``t_max_ps``, compiled over trajectories.

    Initial pairs are Poisson(<N>) unless ``n0`` is given; ``hot_start=False`` starts every pair free (no cooling
    or trapping of photoexcited holes, no excess-energy events: the Auger + radiative chain).
    """
    if int(seed) < 0:
        raise ValueError(f'seed must be non-negative, got {seed}')
    if n0 is None:
        n0 = np.random.default_rng(seed).poisson(model.mean_pairs(fluence_mj_cm2), size=n_trajectories)
    n0 = np.asarray(n0, dtype=np.int64)
    if np.any(n0 < 0):
        raise ValueError('initial pair numbers n0 must be non-negative')
    hot0 = n0 if hot_start else np.zeros_like(n0)
    free0 = np.zeros_like(n0) if hot_start else n0
    offsets = np.concatenate([[0], np.cumsum(2 * hot0 + free0)])
    times = np.empty(offsets[-1])
    kinds = np.empty(offsets[-1], np.int8)
    counts = np.empty(n0.size, np.int64)
    final = np.empty((n0.size, 3), np.int64)
    rates = np.array(model.rates(), dtype=float)
    _run(hot0, free0, rates, float(t_max_ps), int(seed), offsets, times, kinds, counts, final)
    event_time, event_kind, event_trajectory = _compact(offsets, counts, times, kinds)
    return SsaResult(
        n0=n0,
        free0=free0,
        event_time_ps=event_time,
        event_kind=event_kind,
        event_trajectory=event_trajectory,
        hot=final[:, 0],
        free=final[:, 1],
        trapped=final[:, 2],
        kind_energy_ev=model.kind_energy_ev,
        t_max_ps=float(t_max_ps),
    )
