"""Non-adiabatic couplings (NACs) from time-overlaps of molecular orbitals along an MD trajectory. Pure NumPy/SciPy.

Conventions (times in fs, energies in eV):

* Time-overlaps ``S[t]_ij = <i(t)|j(t+dt)>`` (T-1, n, n) between the orbitals (or states) of consecutive frames,
  computed from MO coefficients as ``C(t)^T S_AO(t, t+dt) C(t+dt)`` (:func:`mo_overlaps`). The same-time
  overlaps ``C(t)^T S_AO(t, t) C(t)`` must be the identity: :func:`check_orthonormality` raises
  :class:`OrthonormalityError` when ``max_ij |S(t,t)_ij - delta_ij| > 1e-6`` (the element-wise maximum norm),
  which catches MO coefficients whose AO order does not match the overlap matrix.
* **State tracking** (optional, :func:`track_states`): the orbitals of frame t+1 are relabelled by the
  assignment (Hungarian algorithm on ``-|S[t]|``) that maximises ``sum_i |S[t]_{i, p(i)}|``, so that a state
  keeps its character through (near-)crossings; energies are permuted with them.
* **Phase correction** (:func:`phase_correct`): orbitals have arbitrary signs (phases) at every frame. Each
  orbital of frame t+1 is multiplied by ``u_j(t+1) = u_j(t) conj(S[t]_jj) / |S[t]_jj|`` (``u_j(0) = 1``), which
  makes every corrected diagonal overlap real and positive; for real orbitals this is sign tracking,
  ``u_j(t+1) = u_j(t) sign(S[t]_jj)``. Corrected overlaps: ``S'[t]_ij = conj(u_i(t)) S[t]_ij u_j(t+1)``.
* **NAC** (Hammes-Schiffer & Tully; DESIGN convention), at the midpoint t + dt/2, in 1/fs::

      d_ij = (S'_ij - S'_ji) / (2 dt)        (real orbitals; = (<i(t)|j(t+dt)> - <j(t)|i(t+dt)>) / (2 dt))

  For complex orbitals ``d_ij = (S'_ij - conj(S'_ji)) / (2 dt)`` (anti-Hermitian; it reduces to the above for
  real ones). ``d_ij = <i|d/dt j>``, so ``d_ij = -d_ji``. Reported as the coupling energy ``hbar |d_ij|`` in eV
  (or meV): :func:`nac_energy`. The phases of the first frame's orbitals stay as given (``u(0) = 1``): they fix
  the gauge, ``d_ij -> conj(u_i) u_j d_ij``, which leaves |d_ij| and every population unchanged.
* Statistics (:func:`nac_statistics`): mean of ``hbar |d_ij|`` (meV) over time and the pairs i < j (all pairs, or
  the ones given), and its histogram.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import linear_sum_assignment

from aiida_qdots.common.units import HBAR_EV_FS

ORTHONORMALITY_TOLERANCE = 1e-6
"""Largest allowed element-wise deviation of the same-time MO overlap matrix from the identity."""


class OrthonormalityError(ValueError):
    """Molecular orbitals are not orthonormal in the AO overlap metric (wrong AO order, basis or normalisation)."""


@dataclasses.dataclass
class NacResult:
    """NACs (T-1, n, n) in 1/fs at the interval midpoints, the phase-corrected (and tracked) overlaps, the phases
    ``u`` (T, n) applied to the orbitals of each frame, the state permutation of each frame (T, n) (``perm[t, k]``
    = original index of tracked state k; the identity without tracking), the tracked energies (T, n) eV when
    energies were given, and the smallest corrected |S_jj| (diagnostic of crossings).
    """

    nac: np.ndarray
    overlaps: np.ndarray
    phases: np.ndarray
    permutations: np.ndarray
    energies: np.ndarray | None
    dt_fs: float
    min_diagonal_overlap: float
    tracked: bool

    @property
    def nac_ev(self) -> np.ndarray:
        """hbar |d_ij| (eV), (T-1, n, n)."""
        return nac_energy(self.nac)


@dataclasses.dataclass
class NacStatistics:
    """Mean, median, RMS and maximum of hbar|d_ij| (meV) over time and the chosen pairs, and a histogram
    (``counts`` per bin, ``edges_mev`` of the bins, ``density`` normalised to unit area in 1/meV).
    """

    mean_abs_mev: float
    median_abs_mev: float
    rms_mev: float
    max_abs_mev: float
    mean_abs_by_pair_mev: dict[str, float]
    counts: np.ndarray
    density: np.ndarray
    edges_mev: np.ndarray
    n_values: int
    pairs: list[tuple[int, int]]


def mo_overlaps(coefficients_bra, coefficients_ket, ao_overlap) -> np.ndarray:
    """MO overlaps ``C_bra^H S_AO C_ket`` (n_mo_bra, n_mo_ket) from MO coefficients (n_ao, n_mo) and the AO
    overlap matrix (n_ao, n_ao) between the two AO bases (same frame: S(t,t); consecutive frames: S(t,t+dt)).
    """
    bra = np.asarray(coefficients_bra)
    ket = np.asarray(coefficients_ket)
    s = np.asarray(ao_overlap)
    if bra.ndim != 2 or ket.ndim != 2 or s.shape != (bra.shape[0], ket.shape[0]):
        raise ValueError(
            f'shapes do not match: coefficients {bra.shape} and {ket.shape} (n_ao, n_mo), AO overlap {s.shape}'
        )
    return bra.conj().T @ s @ ket


def check_orthonormality(overlaps, tolerance: float = ORTHONORMALITY_TOLERANCE, label: str = 'frame') -> float:
    """Largest ``|S(t,t)_ij - delta_ij|`` over the same-time MO overlaps ``overlaps`` ((T,) n, n); raises
    :class:`OrthonormalityError` naming the frame and orbitals when it exceeds ``tolerance``.
    """
    s = np.asarray(overlaps)
    if s.ndim == 2:
        s = s[None]
    if s.ndim != 3 or s.shape[1] != s.shape[2]:
        raise ValueError(f'same-time overlaps must have shape ((frames,) n, n), got {np.shape(overlaps)}')
    deviation = np.abs(s - np.eye(s.shape[1])[None])
    worst = float(deviation.max()) if deviation.size else 0.0
    if not np.isfinite(worst) or worst > tolerance:
        t, i, j = np.unravel_index(
            int(np.nanargmax(np.where(np.isfinite(deviation), deviation, np.inf))), deviation.shape
        )
        raise OrthonormalityError(
            f'{label} {t}: <{i}|{j}> = {complex(s[t, i, j]).real:.3g}, expected {float(i == j):g} '
            f'(max |S(t,t) - I| = {worst:.3g} > {tolerance:g}): the molecular orbitals are not orthonormal in the AO '
            'overlap metric; check that the AO order of the MO coefficients matches the AO overlap matrix '
            '(e.g. spherical vs Cartesian, m-ordering of p/d shells), the basis set and the MO normalisation'
        )
    return worst


def _check_overlaps(overlaps) -> np.ndarray:
    s = np.asarray(overlaps)
    if s.ndim != 3 or s.shape[1] != s.shape[2] or s.shape[0] < 1:
        raise ValueError(f'time-overlaps must have shape (T-1, n, n) with T >= 2, got {s.shape}')
    if not np.all(np.isfinite(s)):
        raise ValueError('time-overlaps contain non-finite values')
    return s


def track_states(overlaps, energies=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Relabel the states of each frame by maximum overlap with the previous frame (module docstring).

    Returns the tracked overlaps (T-1, n, n), the permutations (T, n) (``perm[t, k]`` = original index of tracked
    state k at frame t) and the tracked energies (T, n) (None when ``energies`` is None).
    """
    s = _check_overlaps(overlaps)
    steps, n, _ = s.shape
    perm = np.empty((steps + 1, n), dtype=int)
    perm[0] = np.arange(n)
    tracked = np.empty_like(s)
    for t in range(steps):
        rows = s[t][perm[t], :]
        _, columns = linear_sum_assignment(-np.abs(rows))
        perm[t + 1] = columns
        tracked[t] = rows[:, columns]
    tracked_energies = None
    if energies is not None:
        e = np.asarray(energies, dtype=float)
        if e.shape != (steps + 1, n):
            raise ValueError(f'energies must have shape {(steps + 1, n)} (frames, states), got {e.shape}')
        tracked_energies = np.take_along_axis(e, perm, axis=1)
    return tracked, perm, tracked_energies


def phase_correct(overlaps) -> tuple[np.ndarray, np.ndarray]:
    """Phase-corrected overlaps (T-1, n, n) with real positive diagonals, and the phases ``u`` (T, n) applied to
    the orbitals of each frame (module docstring). ValueError when a diagonal overlap vanishes.
    """
    s = _check_overlaps(overlaps)
    steps, n, _ = s.shape
    complex_valued = np.iscomplexobj(s)
    u = np.ones((steps + 1, n), dtype=s.dtype if complex_valued else float)
    for t in range(steps):
        diagonal = np.diagonal(s[t]) * np.conj(u[t]) if complex_valued else np.diagonal(s[t]) * u[t]
        size = np.abs(diagonal)
        zero = np.flatnonzero(size == 0)
        if zero.size:
            raise ValueError(f'step {t}: <{zero[0]}(t)|{zero[0]}(t+dt)> = 0; the phase is undefined (use tracking)')
        u[t + 1] = np.conj(diagonal) / size if complex_valued else np.sign(diagonal)
    corrected = np.conj(u[:-1])[:, :, None] * s * u[1:][:, None, :]
    return corrected, u


def nacs_from_overlaps(
    overlaps, dt_fs: float, energies=None, phase_correction: bool = True, tracking: bool = False
) -> NacResult:
    """NACs d_ij (1/fs) at the interval midpoints from the time-overlaps ``S[t]_ij = <i(t)|j(t+dt)>`` (T-1, n, n)
    of frames ``dt_fs`` apart, after optional state tracking and phase correction (module docstring).
    """
    s = _check_overlaps(overlaps)
    dt = float(dt_fs)
    if not np.isfinite(dt) or dt <= 0:
        raise ValueError(f'dt_fs must be a positive finite number, got {dt_fs}')
    steps, n, _ = s.shape
    perm = np.tile(np.arange(n), (steps + 1, 1))
    tracked_energies = None if energies is None else np.asarray(energies, dtype=float)
    if tracking:
        s, perm, tracked_energies = track_states(s, energies)
    elif tracked_energies is not None and tracked_energies.shape != (steps + 1, n):
        raise ValueError(f'energies must have shape {(steps + 1, n)} (frames, states), got {tracked_energies.shape}')
    if phase_correction:
        s, u = phase_correct(s)
    else:
        u = np.ones((steps + 1, n))
    transposed = np.swapaxes(s, 1, 2)
    nac = (s - (np.conj(transposed) if np.iscomplexobj(s) else transposed)) / (2.0 * dt)
    diagonal = np.abs(np.diagonal(s, axis1=1, axis2=2))
    return NacResult(
        nac=nac,
        overlaps=s,
        phases=u,
        permutations=perm,
        energies=tracked_energies,
        dt_fs=dt,
        min_diagonal_overlap=float(diagonal.min()),
        tracked=tracking,
    )


def nac_energy(nac, unit: str = 'ev') -> np.ndarray:
    """Coupling energy hbar |d_ij| of NACs ``nac`` (1/fs), in eV (``unit='ev'``) or meV (``'mev'``)."""
    scale = {'ev': 1.0, 'mev': 1000.0}
    if unit not in scale:
        raise ValueError(f'unit must be ev or mev, got {unit!r}')
    return HBAR_EV_FS * np.abs(np.asarray(nac)) * scale[unit]


def nac_statistics(nac, pairs=None, bins: int | np.ndarray = 50, max_mev: float | None = None) -> NacStatistics:
    """Statistics and histogram of hbar|d_ij| (meV) of ``nac`` (T-1, n, n) in 1/fs over time and ``pairs``
    (list of (i, j); default all i < j). Histogram: ``bins`` bins from 0 to ``max_mev`` (default the largest value).
    """
    d = np.asarray(nac)
    if d.ndim != 3 or d.shape[1] != d.shape[2] or d.shape[1] < 2:
        raise ValueError(f'NACs must have shape (T-1, n, n) with n >= 2, got {d.shape}')
    n = d.shape[1]
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)] if pairs is None else [tuple(p) for p in pairs]
    for i, j in pairs:
        if not (0 <= i < n and 0 <= j < n) or i == j:
            raise ValueError(f'pair {(i, j)} is not a pair of distinct states among {n}')
    values = np.concatenate([nac_energy(d[:, i, j], 'mev') for i, j in pairs])
    top = float(values.max()) if max_mev is None else float(max_mev)
    counts, edges = np.histogram(values, bins=bins, range=None if np.ndim(bins) else (0.0, top if top > 0 else 1.0))
    widths = np.diff(edges)
    total = counts.sum()
    density = counts / (total * widths) if total else np.zeros_like(widths)
    return NacStatistics(
        mean_abs_mev=float(values.mean()),
        median_abs_mev=float(np.median(values)),
        rms_mev=float(np.sqrt(np.mean(values**2))),
        max_abs_mev=float(values.max()),
        mean_abs_by_pair_mev={f'{i}-{j}': float(nac_energy(d[:, i, j], 'mev').mean()) for i, j in pairs},
        counts=counts,
        density=density,
        edges_mev=edges,
        n_values=int(values.size),
        pairs=pairs,
    )
