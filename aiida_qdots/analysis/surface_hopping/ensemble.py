"""DISH and FSSH ensembles: inputs checked, the backend chosen, the realisations run on the shared kernels, and
the outcome as a :class:`SurfaceHoppingResult` (rules in the package docstring; eV, fs, 1/fs, K).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from aiida_qdots.analysis.surface_hopping._kernels import numba, run_numba, run_python
from aiida_qdots.analysis.surface_hopping._vectorised import run_numpy
from aiida_qdots.analysis.surface_hopping.hamiltonian import check_hamiltonian, positive, step_propagators
from aiida_qdots.analysis.surface_hopping.random_numbers import realisation_keys
from aiida_qdots.common.units import KB_EV_K

BACKENDS = ('auto', 'numba', 'numpy', 'python')
"""``auto`` is numba when it is installed, else numpy; ``python`` is the plain per-realisation loop (reference)."""

RECORD_POINTS = 1000
"""Default number of recorded times: ``record_every = ceil(n_steps / RECORD_POINTS)``."""

_RUNNERS = {'numba': run_numba, 'numpy': run_numpy, 'python': run_python}


@dataclasses.dataclass
class SurfaceHoppingResult:
    """Outcome of a DISH or FSSH ensemble.

    ``time_fs`` (n_out,) recorded times; ``populations`` (n_out, n) fraction of realisations in each active state;
    ``wavefunction_populations`` (n_out, n) mean |c_i|^2; ``active`` (R, n_out) int8 active state of every
    realisation; ``initial_frames`` (R,) start interval and ``groups`` (R,) initial-time index of each realisation;
    ``n_hops``, ``n_decoherence_events`` (0 for FSSH), ``n_rejected_hops`` (R,); ``max_norm_error`` the largest
    | sum_i |c_i|^2 - 1 | after any step of any realisation.
    """

    method: str
    backend: str
    time_fs: np.ndarray
    populations: np.ndarray
    wavefunction_populations: np.ndarray
    active: np.ndarray
    initial_frames: np.ndarray
    groups: np.ndarray
    initial_state: int
    n_hops: np.ndarray
    n_decoherence_events: np.ndarray
    n_rejected_hops: np.ndarray
    max_norm_error: float
    dt_fs: float
    n_steps: int
    record_every: int
    n_intervals: int
    temperature_k: float | None
    decoherence_times_fs: np.ndarray | None
    seed: int
    substeps: int

    @property
    def n_realisations(self) -> int:
        return int(self.active.shape[0])

    @property
    def n_states(self) -> int:
        return int(self.populations.shape[1])

    @property
    def trajectory_steps(self) -> int:
        """Realisations x steps propagated."""
        return self.n_realisations * self.n_steps


def initial_intervals(n_intervals: int, initial_frames: int | Sequence[int]) -> np.ndarray:
    """Start intervals: ``initial_frames`` evenly spaced ones (an int) or the given indices (checked)."""
    if isinstance(initial_frames, (int, np.integer)) and not isinstance(initial_frames, bool):
        count = int(initial_frames)
        if not 1 <= count <= n_intervals:
            raise ValueError(f'initial_frames must be between 1 and {n_intervals} (the intervals), got {count}')
        return (np.arange(count) * n_intervals) // count
    starts = np.asarray(initial_frames, dtype=np.int64).reshape(-1)
    if starts.size == 0 or starts.min() < 0 or starts.max() >= n_intervals:
        raise ValueError(f'initial frames must be interval indices 0..{n_intervals - 1}, got {initial_frames!r}')
    return starts


def _inverse_times(decoherence_times_fs, n: int) -> np.ndarray:
    tau = np.broadcast_to(np.asarray(decoherence_times_fs, dtype=float), (n, n)).copy()
    off = ~np.eye(n, dtype=bool)
    tau[~off] = np.inf
    if np.any(np.isnan(tau)) or np.any(tau <= 0):
        raise ValueError('decoherence times must be positive (inf for no decoherence)')
    if not np.allclose(tau, tau.T, rtol=1e-12, atol=0.0):
        raise ValueError('the decoherence-time matrix must be symmetric (tau_ij = tau_ji)')
    return 1.0 / tau


def _ensemble(
    method: str,
    energies,
    nacs,
    dt_fs: float,
    decoherence_times_fs,
    *,
    n_steps: int | None = None,
    duration_fs: float | None = None,
    initial_state: int = 1,
    initial_frames: int | Sequence[int] = 1,
    n_realisations: int = 100,
    temperature_k: float | None = 300.0,
    record_every: int | None = None,
    seed: int = 0,
    substeps: int = 1,
    backend: str = 'auto',
) -> SurfaceHoppingResult:
    e, d = check_hamiltonian(energies, nacs)
    dt = positive(dt_fs, 'dt_fs')
    n = e.shape[1]
    n_intervals = d.shape[0]
    if (n_steps is None) == (duration_fs is None):
        raise ValueError('give exactly one of n_steps and duration_fs')
    steps = round(positive(duration_fs, 'duration_fs') / dt) if n_steps is None else int(n_steps)
    if steps < 1:
        raise ValueError(f'the run needs at least one step, got {steps}')
    if not 0 <= int(initial_state) < n:
        raise ValueError(f'initial_state must be 0..{n - 1}, got {initial_state}')
    if int(n_realisations) < 1:
        raise ValueError(f'n_realisations must be >= 1, got {n_realisations}')
    every = max(1, math.ceil(steps / RECORD_POINTS)) if record_every is None else int(record_every)
    if every < 1:
        raise ValueError(f'record_every must be >= 1, got {record_every}')
    if backend not in BACKENDS:
        raise ValueError(f'backend must be one of {list(BACKENDS)}, got {backend!r}')
    if backend == 'numba' and numba is None:
        raise ValueError('backend="numba" but numba is not installed')
    chosen = ('numba' if numba is not None else 'numpy') if backend == 'auto' else backend
    if temperature_k is None:
        beta = 0.0
    else:
        temperature = float(temperature_k)
        if not temperature >= 0:
            raise ValueError(f'temperature_k must be >= 0 K or None, got {temperature_k}')
        beta = math.inf if temperature == 0 else 1.0 / (KB_EV_K * temperature)
    decoherent = method == 'dish'
    inverse = _inverse_times(decoherence_times_fs, n) if decoherent else np.zeros((n, n))

    u = step_propagators(e, d, dt, substeps)
    groups_start = initial_intervals(n_intervals, initial_frames)
    start = np.repeat(groups_start, int(n_realisations)).astype(np.int64)
    n_real = start.size
    n_out = steps // every + 1
    active_out = np.zeros((n_real, n_out), dtype=np.int8)
    hops, events, rejected, worst, pop_sum = _RUNNERS[chosen](
        decoherent,
        np.ascontiguousarray(u.real),
        np.ascontiguousarray(u.imag),
        np.ascontiguousarray((e[:-1] + e[1:]) / 2.0),
        inverse,
        dt,
        beta,
        start,
        realisation_keys(seed, n_real),
        int(initial_state),
        steps,
        every,
        active_out,
    )
    counts = np.stack([(active_out == i).sum(axis=0) for i in range(n)], axis=1)
    return SurfaceHoppingResult(
        method=method,
        backend=chosen,
        time_fs=np.arange(n_out) * every * dt,
        populations=counts / n_real,
        wavefunction_populations=pop_sum / n_real,
        active=active_out,
        initial_frames=start,
        groups=np.repeat(np.arange(groups_start.size), int(n_realisations)),
        initial_state=int(initial_state),
        n_hops=np.asarray(hops, dtype=np.int64),
        n_decoherence_events=np.asarray(events, dtype=np.int64),
        n_rejected_hops=np.asarray(rejected, dtype=np.int64),
        max_norm_error=float(np.max(worst)),
        dt_fs=dt,
        n_steps=steps,
        record_every=every,
        n_intervals=n_intervals,
        temperature_k=None if temperature_k is None else float(temperature_k),
        decoherence_times_fs=np.broadcast_to(np.asarray(decoherence_times_fs, dtype=float), (n, n)).copy()
        if decoherent
        else None,
        seed=int(seed),
        substeps=int(substeps),
    )


def dish(energies, nacs, dt_fs: float, decoherence_times_fs, **options) -> SurfaceHoppingResult:
    """Decoherence-induced surface hopping (rules in the package docstring) over the Hamiltonian ``energies``
    (T, n) eV / ``nacs`` (T-1, n, n) 1/fs of frames ``dt_fs`` apart, iterated modulo its length.

    ``decoherence_times_fs``: tau_ij (fs), a scalar for every pair or an (n, n) symmetric matrix (diagonal ignored,
    inf = no decoherence), e.g. :func:`aiida_qdots.analysis.dephasing.pair_dephasing_times`.

    Keyword ``options``: the run length, ``n_steps`` or ``duration_fs`` (fs; exactly one); ``initial_state`` (1);
    ``initial_frames`` (1: a count of evenly spaced start intervals, or the intervals); ``n_realisations`` (100
    stochastic realisations for each initial frame); ``temperature_k`` (300 K, for the Boltzmann factor of upward
    hops; None: accept all); ``record_every`` (the active states are recorded every this many steps; default
    ``ceil(n_steps / RECORD_POINTS)``); ``seed`` (0); ``substeps`` (1, of the step propagators); ``backend``
    (``'auto'``, one of :data:`BACKENDS`).
    """
    return _ensemble('dish', energies, nacs, dt_fs, decoherence_times_fs, **options)


def fssh(energies, nacs, dt_fs: float, **options) -> SurfaceHoppingResult:
    """Fewest-switches surface hopping in the CPA (package docstring) with the inputs and keyword ``options`` of
    :func:`dish` (no decoherence times).
    """
    return _ensemble('fssh', energies, nacs, dt_fs, None, **options)


def check_population_conservation(result: SurfaceHoppingResult, tolerance: float = 1e-8) -> dict[str, float]:
    """Check that the surface-hopping populations sum to 1, every active state is valid, and the wavefunction norm
    stayed 1 within ``tolerance`` after every step; ValueError otherwise. Returns the measured deviations.
    """
    active_ok = bool(np.all((result.active >= 0) & (result.active < result.n_states)))
    sh = float(np.abs(result.populations.sum(axis=1) - 1.0).max())
    wf = float(np.abs(result.wavefunction_populations.sum(axis=1) - 1.0).max())
    report = {'surface_hopping_sum_error': sh, 'wavefunction_sum_error': wf, 'max_norm_error': result.max_norm_error}
    if not active_ok or sh > 1e-12 or wf > tolerance or result.max_norm_error > tolerance:
        raise ValueError(f'population not conserved: {report} (tolerance {tolerance:g}; valid states: {active_ok})')
    return report
