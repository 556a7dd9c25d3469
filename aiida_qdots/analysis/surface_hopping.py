"""Surface hopping in the classical path approximation (CPA): DISH and FSSH over a stored Hamiltonian. NumPy
(numba when installed).

Units: energies in eV, times in fs, NACs in 1/fs, temperature in K, hbar = 0.6582119569 eV fs.

**Hamiltonian.** Energies ``E_i(t)`` (T, n) at the MD frames and NACs ``d_ij`` (T-1, n, n) (real, antisymmetric,
at the interval midpoints; :mod:`aiida_qdots.analysis.nac`). For the S0/S1 recombination model
(:func:`two_state_model`), ``E_0 = 0`` (ground state), ``E_1 = gap(t)`` (the HOMO->LUMO excitation) and
``d_01`` the HOMO-LUMO NAC. In the CPA the nuclei follow the stored trajectory whatever the electrons do. On MD
interval k the Hamiltonian is constant, ``H = diag(E) - i hbar d`` with E linearly interpolated at the midpoint
of each of ``substeps`` sub-steps, and the step propagator ``U_k = exp(-i H dt / hbar)`` is exact for it: closed
form for two states (:func:`propagator_2x2`), eigendecomposition for more. Longer runs iterate the stored
trajectory modulo its length: step s of a realisation started at interval k0 uses interval ``(k0 + s) mod (T-1)``.
Realisations start at several initial times (intervals ``k0``) and share their Hamiltonian; they differ by their
random numbers.

**DISH rules implemented** (Jaeger, Fischer & Prezhdo, J. Chem. Phys. 137, 22A545 (2012), in the CPA):

1. The amplitudes c evolve coherently, ``c <- U_k c``, every step; the active state does not change in between.
2. Each state i has a decoherence clock t_i (time since its coherences were last destroyed) and a decoherence
   time ``tau_i = 1 / sum_{j != i} |c_j|^2 / tau_ij``, with tau_ij the pure-dephasing time of the pair (from the
   dephasing analysis of the gap E_i - E_j; constant along the run; infinite = no decoherence).
3. After each step every clock advances by dt; state i decoheres when ``t_i >= tau_i``. At most one event per step:
   the state with the largest t_i / tau_i.
4. Event on state i: with probability |c_i|^2 it is *projected in* (c collapses onto state i); otherwise it is
   *projected out* (c_i = 0, c renormalised, t_i = 0).
5. Hops happen only at events: projected in onto i != active -> attempt a hop to i; active state projected out ->
   attempt a hop to a state j drawn with probability |c_j|^2 / (1 - |c_i|^2).
6. Detailed balance in the CPA (no velocities to rescale): hops down in energy are accepted, hops up by dE are
   accepted with probability exp(-dE / k_B T) (energies of the step's midpoint; all accepted when
   ``temperature_k`` is None, none when it is 0). A rejected hop collapses c onto the active state.
7. Whenever c is left in a single state (collapse, or only one non-zero amplitude) all clocks restart at 0.

**FSSH** (Tully, J. Chem. Phys. 93, 1061 (1990)) with the same inputs, as the reference method: c evolves
coherently without decoherence; after each step the active state a hops with probability
``g = max(0, -dP_a / P_a)``, dP the exact population change over the step under the exact propagator (Tully's
fewest switches for two states; the global-flux form for more, Wang, Trivedi & Prezhdo, JCTC 10, 3598 (2014)),
to a state j with dP_j > 0 drawn with probability proportional to dP_j; upward hops are accepted with the
Boltzmann factor as in rule 6; rejected (frustrated) hops leave c unchanged.

**Random numbers.** Counter-based (splitmix64 of a per-realisation key and the counter 4 s + slot + 1): a
realisation's result does not depend on the backend, the thread count or the other realisations, so the NumPy,
numba and plain-Python backends give the same hops.

**Recombination time** (:func:`fit_recombination`): the population of the initial state over realisations,
``P(t)``, is fitted by ``exp(-t/tau)`` (least squares over all recorded times; for two states this is
``P_0 = 1 - exp(-t/tau)``); the confidence interval is the percentile interval of a two-stage bootstrap
(initial times with replacement, then realisations within each drawn initial time).

**Analytic limits** for a constant two-state Hamiltonian (gap dE, coupling V = hbar d) with decoherence events
every tau (the DISH clock), to lowest order in V: the hop probability per interval is
``4 V^2 sin^2(dE tau / 2 hbar) / dE^2`` (:func:`fixed_interval_rate`), so the rate is ``V^2 tau / hbar^2`` in the
quantum-Zeno regime dE tau / hbar << 1 (:func:`zeno_rate`; faster decoherence, slower transfer) and
``2 V^2 / (dE^2 tau)`` in the golden-rule regime dE tau / hbar >> 1 with gap fluctuations that randomise the
phase (:func:`golden_rule_rate`: Fermi's golden rule with the Lorentzian line of half-width hbar/tau that the
decoherence gives, in its wing).
"""

from __future__ import annotations

import dataclasses
import math
import types
from collections.abc import Sequence

import numpy as np

from aiida_qdots.common.units import HBAR_EV_FS, KB_EV_K

try:  # optional accelerator: the same per-realisation code compiled, realisations spread over the cores
    import numba
except ImportError:  # pragma: no cover - exercised where numba is missing
    numba = None

BACKENDS = ('auto', 'numba', 'numpy', 'python')
"""``auto`` is numba when it is installed, else numpy; ``python`` is the plain per-realisation loop (reference)."""

RECORD_POINTS = 1000
"""Default number of recorded times: ``record_every = ceil(n_steps / RECORD_POINTS)``."""

_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


# ------------------------------------------------------------------------------------------- Hamiltonian


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
    dt = _positive(dt_fs, 'dt_fs')
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


# ------------------------------------------------------------------------------------------- random numbers


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK
    return z ^ (z >> 31)


def realisation_keys(seed: int, n: int) -> np.ndarray:
    """Per-realisation keys (uint64) of the counter-based random numbers for ``seed``."""
    base = _mix((int(seed) * _GAMMA + 0x632BE59BD9B4E019) & _MASK)
    return np.array([_mix((base + (r + 1) * _GAMMA) & _MASK) for r in range(n)], dtype=np.uint64)


def _uniform_python(key: int, counter: int) -> float:
    return (_mix((key + counter * _GAMMA) & _MASK) >> 11) * 2.0**-53


def _uniform_numpy(keys: np.ndarray, counter: int) -> np.ndarray:
    z = keys + np.uint64((counter * _GAMMA) & _MASK)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
    z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(float) * 2.0**-53


# ------------------------------------------------------------------------------------------- per-realisation kernels


# The per-realisation DISH and FSSH loops, written once. They call the module globals _uniform, _exp, _alloc,
# _propagate and _record: compiled by numba (cached on disk) these are the numba versions; the plain-Python
# reference backend runs the same code objects with plain-Python helpers (_plain). Flattened inputs:
# ure/uim (L n n), e_mid (L n), inv_tau (n n).


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


def _record(r, col, active, n, cre, cim, active_out, pop_sum, chunk):
    active_out[r, col] = active
    for i in range(n):
        pop_sum[chunk, col, i] += cre[i] * cre[i] + cim[i] * cim[i]


def _dish_realisation(
    r,
    ure,
    uim,
    e_mid,
    inv_tau,
    n,
    n_frames,
    dt,
    beta,
    start,
    key,
    initial,
    n_steps,
    record_every,
    active_out,
    pop_sum,
    chunk,
):
    cre = _alloc(n)
    cim = _alloc(n)
    nre = _alloc(n)
    nim = _alloc(n)
    p = _alloc(n)
    clock = _alloc(n)
    cre[initial] = 1.0
    active = initial
    hops = 0
    events = 0
    rejected = 0
    worst = 0.0
    _record(r, 0, active, n, cre, cim, active_out, pop_sum, chunk)
    col = 0
    countdown = record_every
    idx = start
    for s in range(n_steps):
        _propagate(ure, uim, idx * n * n, n, cre, cim, nre, nim)
        norm = 0.0
        for i in range(n):
            p[i] = cre[i] * cre[i] + cim[i] * cim[i]
            norm += p[i]
            clock[i] += 1.0
        if abs(norm - 1.0) > worst:
            worst = abs(norm - 1.0)
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
        if best >= 0:
            events += 1
            rest = 0.0
            for i in range(n):
                if i != best:
                    rest += p[i]
            target = active
            collapse = -1
            if _uniform(key, 4 * s + 1) * norm < p[best] or rest <= 0.0:
                target = best  # projected in
                collapse = best
            else:  # projected out
                if active == best:
                    threshold = _uniform(key, 4 * s + 2) * rest
                    cumulative = 0.0
                    target = -1
                    last = -1
                    for j in range(n):
                        if j != best and p[j] > 0.0:
                            cumulative += p[j]
                            last = j
                            if target < 0 and threshold < cumulative:
                                target = j
                    if target < 0:
                        target = last
                scale = 1.0 / math.sqrt(rest)
                cre[best] = 0.0
                cim[best] = 0.0
                for i in range(n):
                    cre[i] *= scale
                    cim[i] *= scale
                clock[best] = 0.0
            if target != active:
                gap = e_mid[idx * n + target] - e_mid[idx * n + active]
                if gap <= 0.0 or _uniform(key, 4 * s + 3) < _exp(-gap * beta):
                    active = target
                    hops += 1
                else:
                    rejected += 1
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
        idx += 1
        if idx == n_frames:
            idx = 0
        countdown -= 1
        if countdown == 0:
            countdown = record_every
            col += 1
            _record(r, col, active, n, cre, cim, active_out, pop_sum, chunk)
    return hops, events, rejected, worst


def _fssh_realisation(
    r,
    ure,
    uim,
    e_mid,
    inv_tau,
    n,
    n_frames,
    dt,
    beta,
    start,
    key,
    initial,
    n_steps,
    record_every,
    active_out,
    pop_sum,
    chunk,
):
    cre = _alloc(n)
    cim = _alloc(n)
    nre = _alloc(n)
    nim = _alloc(n)
    p = _alloc(n)
    previous = _alloc(n)
    cre[initial] = 1.0
    previous[initial] = 1.0
    active = initial
    hops = 0
    rejected = 0
    worst = 0.0
    _record(r, 0, active, n, cre, cim, active_out, pop_sum, chunk)
    col = 0
    countdown = record_every
    idx = start
    for s in range(n_steps):
        _propagate(ure, uim, idx * n * n, n, cre, cim, nre, nim)
        norm = 0.0
        for i in range(n):
            p[i] = cre[i] * cre[i] + cim[i] * cim[i]
            norm += p[i]
        if abs(norm - 1.0) > worst:
            worst = abs(norm - 1.0)
        loss = previous[active] - p[active]
        if loss > 0.0 and _uniform(key, 4 * s + 1) * previous[active] < loss:
            total = 0.0
            for j in range(n):
                if j != active and p[j] > previous[j]:
                    total += p[j] - previous[j]
            if total > 0.0:
                threshold = _uniform(key, 4 * s + 2) * total
                cumulative = 0.0
                target = -1
                last = -1
                for j in range(n):
                    if j != active and p[j] > previous[j]:
                        cumulative += p[j] - previous[j]
                        last = j
                        if target < 0 and threshold < cumulative:
                            target = j
                if target < 0:
                    target = last
                gap = e_mid[idx * n + target] - e_mid[idx * n + active]
                if gap <= 0.0 or _uniform(key, 4 * s + 3) < _exp(-gap * beta):
                    active = target
                    hops += 1
                else:
                    rejected += 1
        for i in range(n):
            previous[i] = p[i]
        idx += 1
        if idx == n_frames:
            idx = 0
        countdown -= 1
        if countdown == 0:
            countdown = record_every
            col += 1
            _record(r, col, active, n, cre, cim, active_out, pop_sum, chunk)
    return hops, 0, rejected, worst


def _zeros_list(n):
    return [0.0] * n


_uniform = _uniform_python
_exp = math.exp
_alloc = _zeros_list


def _plain(function):
    """``function`` with its helper globals bound to the plain-Python versions (the reference backend)."""
    names = {
        '_uniform': _uniform_python,
        '_exp': math.exp,
        '_alloc': _zeros_list,
        '_propagate': _propagate,
        '_record': _record,
    }
    return types.FunctionType(function.__code__, {**function.__globals__, **names}, function.__name__)


_dish_python_realisation = _plain(_dish_realisation)
_fssh_python_realisation = _plain(_fssh_realisation)

if numba is not None:
    _GAMMA_U64, _MIX1_U64, _MIX2_U64 = np.uint64(_GAMMA), np.uint64(_MIX1), np.uint64(_MIX2)
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

    _propagate = numba.njit(cache=True)(_propagate)
    _record = numba.njit(cache=True)(_record)
    _dish_compiled = numba.njit(cache=True)(_dish_realisation)
    _fssh_compiled = numba.njit(cache=True)(_fssh_realisation)

    def _dish_parallel_source(
        ure,
        uim,
        e_mid,
        inv_tau,
        n,
        n_frames,
        dt,
        beta,
        start,
        keys,
        initial,
        n_steps,
        record_every,
        chunk_bounds,
        active_out,
        pop_sum,
        hops,
        events,
        rejected,
        worst,
    ):
        for chunk in numba.prange(chunk_bounds.size - 1):
            for r in range(chunk_bounds[chunk], chunk_bounds[chunk + 1]):
                h, e, x, w = _dish_compiled(
                    r,
                    ure,
                    uim,
                    e_mid,
                    inv_tau,
                    n,
                    n_frames,
                    dt,
                    beta,
                    start[r],
                    keys[r],
                    initial,
                    n_steps,
                    record_every,
                    active_out,
                    pop_sum,
                    chunk,
                )
                hops[r] = h
                events[r] = e
                rejected[r] = x
                worst[r] = w

    def _fssh_parallel_source(
        ure,
        uim,
        e_mid,
        inv_tau,
        n,
        n_frames,
        dt,
        beta,
        start,
        keys,
        initial,
        n_steps,
        record_every,
        chunk_bounds,
        active_out,
        pop_sum,
        hops,
        events,
        rejected,
        worst,
    ):
        for chunk in numba.prange(chunk_bounds.size - 1):
            for r in range(chunk_bounds[chunk], chunk_bounds[chunk + 1]):
                h, e, x, w = _fssh_compiled(
                    r,
                    ure,
                    uim,
                    e_mid,
                    inv_tau,
                    n,
                    n_frames,
                    dt,
                    beta,
                    start[r],
                    keys[r],
                    initial,
                    n_steps,
                    record_every,
                    active_out,
                    pop_sum,
                    chunk,
                )
                hops[r] = h
                events[r] = e
                rejected[r] = x
                worst[r] = w

    _NUMBA_KERNELS = {
        'dish': numba.njit(parallel=True, cache=True)(_dish_parallel_source),
        'fssh': numba.njit(parallel=True, cache=True)(_fssh_parallel_source),
    }


# ------------------------------------------------------------------------------------------- NumPy backend


def _numpy_dish(ure, uim, e_mid, inv_tau, dt, beta, start, keys, initial, n_steps, record_every, active_out, pop_sum):
    """DISH vectorised over realisations with NumPy: the same arithmetic, in the same order, as the kernels."""
    n_real = start.size
    n_frames, n, _ = ure.shape
    rows = np.arange(n_real)
    cre = np.zeros((n_real, n))
    cim = np.zeros((n_real, n))
    cre[:, initial] = 1.0
    clock = np.zeros((n_real, n))
    active = np.full(n_real, initial, dtype=np.int64)
    hops = np.zeros(n_real, dtype=np.int64)
    events = np.zeros(n_real, dtype=np.int64)
    rejected = np.zeros(n_real, dtype=np.int64)
    worst = np.zeros(n_real)
    idx = start.astype(np.int64).copy()
    _numpy_record(0, active, cre, cim, active_out, pop_sum)
    for s in range(n_steps):
        cre, cim = _numpy_propagate(ure, uim, idx, cre, cim)
        p = cre * cre + cim * cim
        norm = np.zeros(n_real)
        for i in range(n):
            norm = norm + p[:, i]
        clock += 1.0
        worst = np.maximum(worst, np.abs(norm - 1.0))
        best = np.full(n_real, -1, dtype=np.int64)
        best_ratio = np.ones(n_real)
        for i in range(n):
            rate = np.zeros(n_real)
            for j in range(n):
                if j != i:
                    rate = rate + p[:, j] * inv_tau[i * n + j]
            ratio = clock[:, i] * dt * rate
            better = (ratio >= 1.0) & ((best < 0) | (ratio > best_ratio))
            best[better] = i
            best_ratio[better] = ratio[better]
        ev = np.flatnonzero(best >= 0)
        if ev.size:
            events[ev] += 1
            b = best[ev]
            a = active[ev]
            pe = p[ev]
            rest = np.zeros(ev.size)
            for i in range(n):
                rest = rest + np.where(b != i, pe[:, i], 0.0)
            projected_in = (_uniform_numpy(keys[ev], 4 * s + 1) * norm[ev] < pe[rows[: ev.size], b]) | (rest <= 0.0)
            target = a.copy()
            collapse = np.full(ev.size, -1, dtype=np.int64)
            target[projected_in] = b[projected_in]
            collapse[projected_in] = b[projected_in]
            choose = ~projected_in & (a == b)
            if choose.any():
                target[choose] = _numpy_choice(
                    _uniform_numpy(keys[ev[choose]], 4 * s + 2) * rest[choose],
                    pe[choose],
                    np.ones((int(choose.sum()), n), dtype=bool) & (np.arange(n) != b[choose, None]),
                )
            out = np.flatnonzero(~projected_in)
            if out.size:
                r_out = ev[out]
                cre[r_out, b[out]] = 0.0
                cim[r_out, b[out]] = 0.0
                scale = 1.0 / np.sqrt(rest[out])
                cre[r_out] *= scale[:, None]
                cim[r_out] *= scale[:, None]
                clock[r_out, b[out]] = 0.0
            hop, accept = _numpy_accept(e_mid, idx[ev], a, target, keys[ev], 4 * s + 3, beta)
            active[ev[accept]] = target[accept]
            hops[ev[accept]] += 1
            refused = hop & ~accept
            rejected[ev[refused]] += 1
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
        idx += 1
        idx[idx == n_frames] = 0
        if (s + 1) % record_every == 0:
            _numpy_record((s + 1) // record_every, active, cre, cim, active_out, pop_sum)
    return hops, events, rejected, worst


def _numpy_fssh(ure, uim, e_mid, inv_tau, dt, beta, start, keys, initial, n_steps, record_every, active_out, pop_sum):
    """FSSH vectorised over realisations with NumPy (same arithmetic and order as the kernels)."""
    n_real = start.size
    n_frames, n, _ = ure.shape
    cre = np.zeros((n_real, n))
    cim = np.zeros((n_real, n))
    cre[:, initial] = 1.0
    previous = cre.copy()
    active = np.full(n_real, initial, dtype=np.int64)
    hops = np.zeros(n_real, dtype=np.int64)
    rejected = np.zeros(n_real, dtype=np.int64)
    worst = np.zeros(n_real)
    idx = start.astype(np.int64).copy()
    rows = np.arange(n_real)
    _numpy_record(0, active, cre, cim, active_out, pop_sum)
    for s in range(n_steps):
        cre, cim = _numpy_propagate(ure, uim, idx, cre, cim)
        p = cre * cre + cim * cim
        norm = np.zeros(n_real)
        for i in range(n):
            norm = norm + p[:, i]
        worst = np.maximum(worst, np.abs(norm - 1.0))
        loss = previous[rows, active] - p[rows, active]
        candidates = np.flatnonzero(loss > 0.0)
        if candidates.size:
            u0 = _uniform_numpy(keys[candidates], 4 * s + 1)
            tries = candidates[u0 * previous[candidates, active[candidates]] < loss[candidates]]
            if tries.size:
                gain = p[tries] - previous[tries]
                allowed = (gain > 0.0) & (np.arange(n) != active[tries, None])
                total = np.zeros(tries.size)
                for j in range(n):
                    total = total + np.where(allowed[:, j], gain[:, j], 0.0)
                go = total > 0.0
                tries, gain, allowed, total = tries[go], gain[go], allowed[go], total[go]
                if tries.size:
                    target = _numpy_choice(_uniform_numpy(keys[tries], 4 * s + 2) * total, gain, allowed)
                    _, accept = _numpy_accept(e_mid, idx[tries], active[tries], target, keys[tries], 4 * s + 3, beta)
                    active[tries[accept]] = target[accept]
                    hops[tries[accept]] += 1
                    rejected[tries[~accept]] += 1
        previous = p
        idx += 1
        idx[idx == n_frames] = 0
        if (s + 1) % record_every == 0:
            _numpy_record((s + 1) // record_every, active, cre, cim, active_out, pop_sum)
    return hops, np.zeros(n_real, dtype=np.int64), rejected, worst


def _numpy_propagate(ure, uim, idx, cre, cim):
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


def _numpy_choice(threshold, weights, allowed):
    """First allowed state whose cumulative weight exceeds ``threshold`` (the last allowed one when none does)."""
    cumulative = np.zeros(threshold.size)
    target = np.full(threshold.size, -1, dtype=np.int64)
    last = np.full(threshold.size, -1, dtype=np.int64)
    for j in range(weights.shape[1]):
        ok = allowed[:, j] & (weights[:, j] > 0.0)
        cumulative = cumulative + np.where(ok, weights[:, j], 0.0)
        last[ok] = j
        target[ok & (target < 0) & (threshold < cumulative)] = j
    return np.where(target < 0, last, target)


def _numpy_accept(e_mid, idx, active, target, keys, counter, beta):
    """(attempted, accepted) hop masks: down always, up with the Boltzmann factor (rule 6)."""
    n = e_mid.shape[1]
    flat = e_mid.reshape(-1)
    hop = target != active
    gap = flat[idx * n + target] - flat[idx * n + active]
    accept = hop & (gap <= 0.0)
    up = np.flatnonzero(hop & (gap > 0.0))
    if up.size:
        accept[up] = _uniform_numpy(keys[up], counter) < np.exp(-gap[up] * beta)
    return hop, accept


def _numpy_record(col, active, cre, cim, active_out, pop_sum):
    active_out[:, col] = active
    pop_sum[0, col] += (cre * cre + cim * cim).sum(axis=0)


# ------------------------------------------------------------------------------------------- drivers


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


def _run(
    method,
    energies,
    nacs,
    dt_fs,
    decoherence_times_fs,
    n_steps,
    duration_fs,
    initial_state,
    initial_frames,
    n_realisations,
    temperature_k,
    record_every,
    seed,
    substeps,
    backend,
) -> SurfaceHoppingResult:
    e, d = check_hamiltonian(energies, nacs)
    dt = _positive(dt_fs, 'dt_fs')
    n = e.shape[1]
    n_intervals = d.shape[0]
    if (n_steps is None) == (duration_fs is None):
        raise ValueError('give exactly one of n_steps and duration_fs')
    steps = round(_positive(duration_fs, 'duration_fs') / dt) if n_steps is None else int(n_steps)
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
    inverse = _inverse_times(decoherence_times_fs, n) if method == 'dish' else np.zeros((n, n))

    u = step_propagators(e, d, dt, substeps)
    ure = np.ascontiguousarray(u.real)
    uim = np.ascontiguousarray(u.imag)
    e_mid = np.ascontiguousarray((e[:-1] + e[1:]) / 2.0)
    groups_start = initial_intervals(n_intervals, initial_frames)
    per_group = int(n_realisations)
    start = np.repeat(groups_start, per_group).astype(np.int64)
    groups = np.repeat(np.arange(groups_start.size), per_group)
    n_real = start.size
    keys = realisation_keys(seed, n_real)
    n_out = steps // every + 1
    active_out = np.zeros((n_real, n_out), dtype=np.int8)
    if chosen == 'numba':
        threads = numba.get_num_threads()
        n_chunks = max(1, min(n_real, 4 * threads))
        bounds = np.linspace(0, n_real, n_chunks + 1).round().astype(np.int64)
        pop_sum = np.zeros((n_chunks, n_out, n))
        hops = np.zeros(n_real, dtype=np.int64)
        events = np.zeros(n_real, dtype=np.int64)
        rejected = np.zeros(n_real, dtype=np.int64)
        worst = np.zeros(n_real)
        _NUMBA_KERNELS[method](
            ure.reshape(-1),
            uim.reshape(-1),
            e_mid.reshape(-1),
            inverse.reshape(-1),
            n,
            n_intervals,
            dt,
            beta,
            start,
            keys,
            int(initial_state),
            steps,
            every,
            bounds,
            active_out,
            pop_sum,
            hops,
            events,
            rejected,
            worst,
        )
    elif chosen == 'numpy':
        pop_sum = np.zeros((1, n_out, n))
        kernel = _numpy_dish if method == 'dish' else _numpy_fssh
        hops, events, rejected, worst = kernel(
            ure,
            uim,
            e_mid,
            inverse.reshape(-1),
            dt,
            beta,
            start,
            keys,
            int(initial_state),
            steps,
            every,
            active_out,
            pop_sum,
        )
    else:
        pop_sum = np.zeros((1, n_out, n))
        realisation = _dish_python_realisation if method == 'dish' else _fssh_python_realisation
        flat = [
            ure.reshape(-1).tolist(),
            uim.reshape(-1).tolist(),
            e_mid.reshape(-1).tolist(),
            inverse.reshape(-1).tolist(),
        ]
        outcome = [
            realisation(
                r,
                *flat,
                n,
                n_intervals,
                dt,
                beta,
                int(start[r]),
                int(keys[r]),
                int(initial_state),
                steps,
                every,
                active_out,
                pop_sum,
                0,
            )
            for r in range(n_real)
        ]
        hops, events, rejected, worst = (np.array(column) for column in zip(*outcome, strict=True))
    counts = np.stack([(active_out == i).sum(axis=0) for i in range(n)], axis=1)
    return SurfaceHoppingResult(
        method=method,
        backend=chosen,
        time_fs=np.arange(n_out) * every * dt,
        populations=counts / n_real,
        wavefunction_populations=pop_sum.sum(axis=0) / n_real,
        active=active_out,
        initial_frames=start,
        groups=groups,
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
        if method == 'dish'
        else None,
        seed=int(seed),
        substeps=int(substeps),
    )


def dish(
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
    """Decoherence-induced surface hopping (rules in the module docstring) over the Hamiltonian ``energies`` (T, n)
    eV / ``nacs`` (T-1, n, n) 1/fs of frames ``dt_fs`` apart, iterated modulo its length.

    ``decoherence_times_fs``: tau_ij (fs), a scalar for every pair or an (n, n) symmetric matrix (diagonal ignored,
    inf = no decoherence), e.g. :func:`aiida_qdots.analysis.dephasing.pair_dephasing_times`. Run length
    ``n_steps`` or ``duration_fs``; ``n_realisations`` stochastic realisations for each of the ``initial_frames``
    (a count of evenly spaced start intervals, or the intervals); ``temperature_k`` for the Boltzmann factor of
    upward hops (None: accept all); the active states are recorded every ``record_every`` steps.
    """
    return _run(
        'dish',
        energies,
        nacs,
        dt_fs,
        decoherence_times_fs,
        n_steps,
        duration_fs,
        initial_state,
        initial_frames,
        n_realisations,
        temperature_k,
        record_every,
        seed,
        substeps,
        backend,
    )


def fssh(
    energies,
    nacs,
    dt_fs: float,
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
    """Fewest-switches surface hopping in the CPA (module docstring) with the inputs of :func:`dish` (no
    decoherence times).
    """
    return _run(
        'fssh',
        energies,
        nacs,
        dt_fs,
        None,
        n_steps,
        duration_fs,
        initial_state,
        initial_frames,
        n_realisations,
        temperature_k,
        record_every,
        seed,
        substeps,
        backend,
    )


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


# ------------------------------------------------------------------------------------------- recombination time


@dataclasses.dataclass
class RecombinationFit:
    """exp(-t/tau) fit of the initial-state population: ``tau_fs`` (fs), ``rate_per_fs``, the bootstrap percentile
    interval ``ci_fs`` (low, high) at ``confidence``, the bootstrap time constants, and the fitted curve.
    """

    tau_fs: float
    rate_per_fs: float
    ci_fs: tuple[float, float]
    confidence: float
    n_bootstrap: int
    bootstrap_tau_fs: np.ndarray
    state: int
    time_fs: np.ndarray
    population: np.ndarray
    fitted: np.ndarray
    resampling: str
    model: str = 'P_state(t) = exp(-t/tau), least squares over the recorded times'

    @property
    def tau_ns(self) -> float:
        return self.tau_fs / 1e6

    @property
    def ci_ns(self) -> tuple[float, float]:
        return self.ci_fs[0] / 1e6, self.ci_fs[1] / 1e6


def fit_decay_rate(time_fs, population) -> np.ndarray:
    """Least-squares rate k >= 0 (1/fs) of ``population`` (..., n_t) by exp(-k t), for each leading row
    (damped Gauss-Newton from the log-linear estimate).
    """
    t = np.asarray(time_fs, dtype=float)
    p = np.atleast_2d(np.asarray(population, dtype=float))
    tt = float(np.sum(t * t))
    if tt == 0:
        raise ValueError('need recorded times after t = 0 to fit a decay')
    k = np.maximum(np.sum(t * -np.log(np.clip(p, 1e-12, 1.0)), axis=1) / tt, 0.0)

    def sse(rate):
        return np.sum((p - np.exp(-rate[:, None] * t)) ** 2, axis=1)

    current = sse(k)
    for _ in range(200):
        m = np.exp(-k[:, None] * t)
        jac = -t * m
        step = -np.sum(jac * (m - p), axis=1) / np.maximum(np.sum(jac * jac, axis=1), 1e-300)
        trial = np.maximum(k + step, 0.0)
        value = sse(trial)
        for _ in range(30):
            worse = value > current
            if not worse.any():
                break
            step = np.where(worse, step / 2.0, step)
            trial = np.where(worse, np.maximum(k + step, 0.0), trial)
            value = np.where(worse, sse(trial), value)
        better = value <= current
        change = np.abs(np.where(better, trial, k) - k)
        k = np.where(better, trial, k)
        current = np.where(better, value, current)
        if np.all(change <= 1e-13 * np.maximum(k, 1e-300)):
            break
    return k if np.ndim(population) > 1 else k[:1]


def fit_recombination(
    result: SurfaceHoppingResult,
    state: int | None = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> RecombinationFit:
    """Recombination time: exp(-t/tau) fit of the population of ``state`` (default the initial state) with a
    two-stage bootstrap confidence interval (initial times, then realisations within each; module docstring).
    """
    state = result.initial_state if state is None else int(state)
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must be between 0 and 1, got {confidence}')
    survival = (result.active == state).astype(float)
    population = survival.mean(axis=0)
    rate = float(fit_decay_rate(result.time_fs, population)[0])
    alpha = (1.0 - confidence) / 2.0
    if n_bootstrap > 0:
        members = np.stack([np.flatnonzero(result.groups == g) for g in np.unique(result.groups)])
        n_groups, per_group = members.shape
        rng = np.random.default_rng(seed)
        picked = rng.integers(0, n_groups, (n_bootstrap, n_groups))
        within = rng.integers(0, per_group, (n_bootstrap, n_groups, per_group))
        chosen = members[picked[:, :, None], within].reshape(n_bootstrap, -1)
        offsets = (np.arange(n_bootstrap) * result.n_realisations)[:, None]
        weights = np.bincount((chosen + offsets).reshape(-1), minlength=n_bootstrap * result.n_realisations)
        weights = weights.reshape(n_bootstrap, result.n_realisations).astype(float)
        samples = (weights @ survival) / weights.sum(axis=1, keepdims=True)
        rates = fit_decay_rate(result.time_fs, samples)
        low_rate, high_rate = np.quantile(rates, [alpha, 1.0 - alpha])
        ci = (_inverse(high_rate), _inverse(low_rate))
    else:
        rates = np.empty(0)
        ci = (math.nan, math.nan)
    return RecombinationFit(
        tau_fs=_inverse(rate),
        rate_per_fs=rate,
        ci_fs=ci,
        confidence=float(confidence),
        n_bootstrap=int(n_bootstrap),
        bootstrap_tau_fs=np.array([_inverse(x) for x in rates]),
        state=state,
        time_fs=result.time_fs,
        population=population,
        fitted=np.exp(-rate * result.time_fs),
        resampling='two-stage: initial times with replacement, then realisations within each drawn initial time',
    )


def _inverse(rate: float) -> float:
    return float(1.0 / rate) if rate > 0 else math.inf


def _positive(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f'{name} must be a positive finite number, got {value}')
    return value
