"""The Hamiltonian of the classical path approximation: checks, the S0/S1 model, exact step propagators, and the
analytic limits (Rabi oscillation, quantum-Zeno, fixed-interval and golden-rule rates) that DISH is tested
against. Energies in eV, times in fs, NACs in 1/fs (package docstring).
"""

from __future__ import annotations

import math

import numpy as np

from aiida_qdots.common.units import HBAR_EV_FS


def check_hamiltonian(energies, nacs) -> tuple[np.ndarray, np.ndarray]:
    """``energies`` (T, n) eV and ``nacs`` (T-1, n, n) 1/fs as float arrays; ValueError unless the NACs are real,
    finite and antisymmetric (to 1e-10 relative) and the shapes match.
    """
    e = np.asarray(energies, dtype=float)
    if e.ndim != 2 or e.shape[0] < 2 or e.shape[1] < 2:
        raise ValueError(f'energies must have shape (frames >= 2, states >= 2), got {e.shape}')
    if np.iscomplexobj(nacs):
        raise ValueError('NACs must be real (real orbitals); got complex values')
    d = np.asarray(nacs, dtype=float)
    if d.shape != (e.shape[0] - 1, e.shape[1], e.shape[1]):
        raise ValueError(
            f'nacs must have shape {(e.shape[0] - 1, e.shape[1], e.shape[1])} (intervals, n, n), got {d.shape}'
        )
    if not (np.all(np.isfinite(e)) and np.all(np.isfinite(d))):
        raise ValueError('energies and NACs must be finite')
    scale = max(float(np.abs(d).max()), 1e-300)
    asymmetry = float(np.abs(d + np.swapaxes(d, 1, 2)).max())
    if asymmetry > 1e-10 * scale:
        raise ValueError(f'NACs must be antisymmetric (d_ij = -d_ji); max |d + d^T| = {asymmetry:.3g} 1/fs')
    return e, d


def two_state_model(gap_ev, nac_per_fs) -> tuple[np.ndarray, np.ndarray]:
    """S0/S1 Hamiltonian: energies (T, 2) = [0, gap] eV and NACs (T-1, 2, 2) with d_01 = ``nac_per_fs`` (scalar or
    (T-1,) 1/fs, the HOMO-LUMO NAC) and d_10 = -d_01.
    """
    gap = np.asarray(gap_ev, dtype=float)
    if gap.ndim != 1 or gap.size < 2:
        raise ValueError(f'gap must be a series of at least 2 frames, got shape {gap.shape}')
    d01 = np.broadcast_to(np.asarray(nac_per_fs, dtype=float), (gap.size - 1,))
    energies = np.stack([np.zeros_like(gap), gap], axis=1)
    nacs = np.zeros((gap.size - 1, 2, 2))
    nacs[:, 0, 1] = d01
    nacs[:, 1, 0] = -d01
    return energies, nacs


def propagator_2x2(e0, e1, d01, dt_fs: float) -> np.ndarray:
    """Exact ``exp(-i H dt / hbar)`` (..., 2, 2) of ``H = [[e0, -i hbar d01], [i hbar d01, e1]]`` (eV, 1/fs).

    ``H = e_mean I + n.sigma`` with ``n = (0, hbar d01, (e0 - e1)/2)``, so
    ``U = exp(-i e_mean dt/hbar) [cos(|n| dt/hbar) I - i sin(|n| dt/hbar) n.sigma/|n|]``.
    """
    e0, e1, d01 = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (e0, e1, d01)))
    ny = HBAR_EV_FS * d01
    nz = (e0 - e1) / 2.0
    size = np.hypot(ny, nz)
    angle = size * dt_fs / HBAR_EV_FS
    cos = np.cos(angle)
    sinc = np.where(size > 0, np.sin(angle) / np.where(size > 0, size, 1.0), dt_fs / HBAR_EV_FS)
    phase = np.exp(-1j * (e0 + e1) / 2.0 * dt_fs / HBAR_EV_FS)
    u = np.empty((*e0.shape, 2, 2), dtype=complex)
    u[..., 0, 0] = cos - 1j * sinc * nz
    u[..., 1, 1] = cos + 1j * sinc * nz
    u[..., 0, 1] = -sinc * ny  # -i sinc * (-i ny)
    u[..., 1, 0] = sinc * ny  # -i sinc * (i ny)
    return u * phase[..., None, None]


def step_propagators(energies, nacs, dt_fs: float, substeps: int = 1) -> np.ndarray:
    """Exact propagators (T-1, n, n) of the MD intervals for the piecewise-constant Hamiltonian of the module
    docstring (energies interpolated at the midpoint of each of ``substeps`` sub-steps, NAC constant).
    """
    e, d = check_hamiltonian(energies, nacs)
    dt = positive(dt_fs, 'dt_fs')
    if isinstance(substeps, bool) or int(substeps) != substeps or substeps < 1:
        raise ValueError(f'substeps must be a positive integer, got {substeps!r}')
    h = dt / substeps
    n = e.shape[1]
    total = np.broadcast_to(np.eye(n, dtype=complex), d.shape).copy()
    for m in range(int(substeps)):
        w = (m + 0.5) / substeps
        em = (1.0 - w) * e[:-1] + w * e[1:]
        if n == 2:
            u = propagator_2x2(em[:, 0], em[:, 1], d[:, 0, 1], h)
        else:
            hamiltonian = -1j * HBAR_EV_FS * d.astype(complex)
            hamiltonian[:, np.arange(n), np.arange(n)] += em
            values, vectors = np.linalg.eigh(hamiltonian)
            u = (vectors * np.exp(-1j * values * h / HBAR_EV_FS)[:, None, :]) @ np.conj(np.swapaxes(vectors, 1, 2))
        total = u @ total
    return total


def rabi_population(time_fs, gap_ev: float, coupling_ev: float) -> np.ndarray:
    """Population of the other state of a constant two-state Hamiltonian started in one state:
    ``(4 V^2 / Omega^2) sin^2(Omega t / 2 hbar)``, ``Omega = sqrt(dE^2 + 4 V^2)``.
    """
    t = np.asarray(time_fs, dtype=float)
    omega = math.sqrt(gap_ev**2 + 4.0 * coupling_ev**2)
    if omega == 0:
        return np.zeros_like(t)
    return 4.0 * coupling_ev**2 / omega**2 * np.sin(omega * t / (2.0 * HBAR_EV_FS)) ** 2


def zeno_rate(coupling_ev: float, interval_fs: float) -> float:
    """Quantum-Zeno rate V^2 tau / hbar^2 (1/fs) for decoherence events every ``interval_fs`` (dE tau/hbar << 1)."""
    return coupling_ev**2 * interval_fs / HBAR_EV_FS**2


def fixed_interval_rate(coupling_ev: float, gap_ev: float, interval_fs: float) -> float:
    """Lowest-order hop rate 4 V^2 sin^2(dE tau / 2 hbar) / (dE^2 tau) (1/fs) for events every tau."""
    if gap_ev == 0:
        return zeno_rate(coupling_ev, interval_fs)
    return 4.0 * coupling_ev**2 * math.sin(gap_ev * interval_fs / (2.0 * HBAR_EV_FS)) ** 2 / (gap_ev**2 * interval_fs)


def golden_rule_rate(coupling_ev: float, gap_ev, interval_fs: float) -> float:
    """Phase-averaged golden-rule rate 2 V^2 <dE^-2> / tau (1/fs) (dE tau / hbar >> 1); ``gap_ev`` may be the gap
    series, averaged as <1/dE^2>.
    """
    inverse_square = float(np.mean(1.0 / np.asarray(gap_ev, dtype=float) ** 2))
    return 2.0 * coupling_ev**2 * inverse_square / interval_fs


def positive(value: float, name: str) -> float:
    """``value`` as a float; ValueError unless it is positive and finite."""
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f'{name} must be a positive finite number, got {value}')
    return value
