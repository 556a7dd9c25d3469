"""Vibrational power spectra from the mass-weighted velocity autocorrelation (VACF). Pure NumPy/SciPy.

Conventions (velocities in angstrom/fs, masses in amu, times in fs, energies in eV, wavenumbers in cm^-1):

* VACF, biased estimator, mass-weighted and summed over the atoms of a group (all atoms, or one element)::

      C(tau) = (1/T) sum_{t=0}^{T-1-tau} sum_n m_n v_n(t) . v_n(t + tau),   tau = 0 .. L-1 frames

  computed by FFT with zero padding to at least T + L - 1 points (no circular wrap-around), O(T log T), and
  converted to eV (1 amu A^2/fs^2 = :data:`AMU_A2_FS2_EV` eV). ``C(0) = sum_n m_n <|v_n|^2>_t = 2 <E_kin>``.
  The biased estimator (divide by T, not T - tau) is the unbiased one tapered by the triangle 1 - tau/T: its
  transform is the (non-negative) periodogram when all lags are kept, and long lags carry no extra noise.
* Lag window ``hann`` (default): ``w(tau) = (1 + cos(pi tau / L)) / 2``, ``w(0) = 1``; ``none``: w = 1
  (sharp truncation at L; use it with the full lag range). L = T by default (``max_lag_fs``).
* Power spectrum, one-sided density in eV per cm^-1 at wavenumbers ``k / (M dt c)``, k = 0 .. M // 2, from the
  discrete cosine transform of the windowed, even-extended C (M >= 2L - 1 points)::

      S(nu_k) = g_k c dt [C(0) + 2 sum_{tau=1}^{L-1} w(tau) C(tau) cos(2 pi k tau / M)]

  with g_k = 1 at k = 0 (and at k = M/2 for even M), g_k = 2 elsewhere, c in cm/fs. Parseval holds exactly:
  ``sum_k S(nu_k) * d_nu = C(0) = 2 <E_kin>`` (d_nu the bin spacing in cm^-1), for the total and for each
  element; so the spectrum of element e integrates to 3 N_e k_B T_e by equipartition. The element spectra add
  up to the total (the transform is linear).
* Velocities: the trajectory's own, or second-order central differences of the positions (one-sided
  second-order differences at the two ends). Their transfer function sin(w dt)/(w dt) damps a mode at 300 cm^-1
  by 0.05 % at dt = 1 fs. By default the centre-of-mass velocity of every frame is subtracted; overall
  rotation is kept (it appears at the lowest wavenumbers).
* Acoustic / optical: fractions of the total integral below / above ``cutoff_cm1`` (120 cm^-1 by default);
  each bin is the interval of width d_nu around its wavenumber (half of it for k = 0), split linearly at the
  cutoff, so the two fractions add up to 1.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import fft as sfft

from aiida_qdots.analysis.fluctuations import atomic_masses, element_indices
from aiida_qdots.analysis.peaks import parabolic_peak
from aiida_qdots.common.units import AMU_KG, EV_J, KB_EV_K, SPEED_OF_LIGHT_CM_FS

AMU_A2_FS2_EV = AMU_KG * 1e10 / EV_J
"""One amu angstrom^2 / fs^2 in eV (about 103.6427)."""

ACOUSTIC_CUTOFF_CM1 = 120.0
"""Default boundary between the acoustic and the optical region (cm^-1)."""

WINDOWS = ('hann', 'none')

CHUNK_VALUES = 1 << 22
"""Atoms are transformed in chunks of about this many complex numbers (64 MiB)."""


@dataclasses.dataclass
class PowerSpectrum:
    """Mass-weighted VACF and power spectrum, total and per element.

    ``frequency_cm1`` (K,) cm^-1; ``total`` and ``by_element[e]`` (K,) one-sided densities in eV per cm^-1;
    ``lag_fs`` (L,) fs; ``vacf_total`` and ``vacf_by_element[e]`` (L,) in eV (biased estimator, before the lag
    window); ``integral_total`` / ``integral_by_element`` = sum(density) * ``resolution_cm1`` = C(0) in eV;
    ``n_atoms_by_element`` the atom counts.
    """

    frequency_cm1: np.ndarray
    total: np.ndarray
    by_element: dict[str, np.ndarray]
    lag_fs: np.ndarray
    vacf_total: np.ndarray
    vacf_by_element: dict[str, np.ndarray]
    elements: list[str]
    n_atoms_by_element: dict[str, int]
    timestep_fs: float
    n_frames: int
    max_lag_fs: float
    window: str
    resolution_cm1: float
    integral_total: float
    integral_by_element: dict[str, float]
    com_velocity_removed: bool


def _check_velocities(values: np.ndarray, what: str = 'velocities') -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 3 or values.shape[2] != 3:
        raise ValueError(f'{what} must have shape (frames, atoms, 3), got {values.shape}')
    return values


def _check_timestep(timestep_fs: float) -> float:
    dt = float(timestep_fs)
    if not np.isfinite(dt) or dt <= 0:
        raise ValueError(f'time step must be a positive number of fs, got {timestep_fs!r}')
    return dt


def central_difference_velocities(positions: np.ndarray, timestep_fs: float) -> np.ndarray:
    """Velocities (T, N, 3) in angstrom/fs from positions (T, N, 3) angstrom, frames ``timestep_fs`` apart.

    Interior frames: (x[t+1] - x[t-1]) / (2 dt); first and last frame: the one-sided second-order formulas
    (-3 x[0] + 4 x[1] - x[2]) / (2 dt) and (3 x[-1] - 4 x[-2] + x[-3]) / (2 dt). Needs T >= 3.
    """
    x = _check_velocities(positions, 'positions')
    dt = _check_timestep(timestep_fs)
    if x.shape[0] < 3:
        raise ValueError(f'central differences need at least 3 frames, got {x.shape[0]}')
    v = np.empty_like(x)
    v[1:-1] = (x[2:] - x[:-2]) / (2 * dt)
    v[0] = (-3 * x[0] + 4 * x[1] - x[2]) / (2 * dt)
    v[-1] = (3 * x[-1] - 4 * x[-2] + x[-3]) / (2 * dt)
    return v


def remove_com_velocity(velocities: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """``velocities`` (T, N, 3) minus each frame's centre-of-mass velocity (``masses`` in amu)."""
    v = _check_velocities(velocities)
    m = np.asarray(masses, dtype=float)
    com = np.einsum('tni,n->ti', v, m) / m.sum()
    return v - com[:, None, :]


def mass_weighted_vacf(
    velocities: np.ndarray, masses: np.ndarray, groups: dict[str, np.ndarray], max_lag: int | None = None
) -> dict[str, np.ndarray]:
    """Biased mass-weighted VACF (amu A^2/fs^2) of each group of atoms, lags 0 .. ``max_lag`` - 1 frames.

    ``groups`` maps a name to atom indices. ``C_g(tau) = (1/T) sum_t sum_{n in g} m_n v_n(t) . v_n(t + tau)``
    by FFT (zero padding to ``next_fast_len(T + L - 1)``); atoms are transformed in bounded chunks.
    """
    v = _check_velocities(velocities)
    n_frames = v.shape[0]
    lags = n_frames if max_lag is None else int(max_lag)
    if not 1 <= lags <= n_frames:
        raise ValueError(f'max_lag must be between 1 and the number of frames ({n_frames}), got {max_lag}')
    m = np.asarray(masses, dtype=float)
    n_fft = sfft.next_fast_len(n_frames + lags - 1, real=True)
    chunk = max(1, CHUNK_VALUES // (3 * (n_fft // 2 + 1)))
    out = {}
    for name, atoms in groups.items():
        atoms = np.asarray(atoms, dtype=int)
        power = np.zeros(n_fft // 2 + 1)
        for k in range(0, atoms.size, chunk):
            index = atoms[k : k + chunk]
            series = np.ascontiguousarray(v[:, index, :].transpose(1, 2, 0))  # (atoms, 3, T)
            spectrum = sfft.rfft(series, n=n_fft, axis=-1)
            power += np.einsum('n,nif->f', m[index], spectrum.real**2 + spectrum.imag**2)
        out[name] = sfft.irfft(power, n=n_fft)[:lags] / n_frames
    return out


def lag_window(n_lags: int, window: str = 'hann') -> np.ndarray:
    """Lag window (L,): ``hann`` w = (1 + cos(pi tau / L)) / 2, ``none`` w = 1; w(0) = 1 in both."""
    if window == 'none':
        return np.ones(n_lags)
    if window == 'hann':
        return 0.5 * (1.0 + np.cos(np.pi * np.arange(n_lags) / n_lags))
    raise ValueError(f'unknown window {window!r}; known: {", ".join(WINDOWS)}')


def spectral_density(
    correlation: np.ndarray, timestep_fs: float, window: str = 'hann'
) -> tuple[np.ndarray, np.ndarray]:
    """(wavenumbers cm^-1, one-sided density per cm^-1) of an even correlation given at lags 0 .. L-1.

    The density has the unit of ``correlation`` per cm^-1 and ``sum(density) * d_nu == correlation[0]``
    exactly (``d_nu = wavenumbers[1]``), whatever the window.
    """
    dt = _check_timestep(timestep_fs)
    c = np.asarray(correlation, dtype=float) * lag_window(len(correlation), window)
    n_lags = c.size
    size = sfft.next_fast_len(max(2 * n_lags - 1, 2), real=True)
    even = np.zeros(size)
    even[:n_lags] = c
    if n_lags > 1:
        even[-(n_lags - 1) :] = c[1:][::-1]
    two_sided = sfft.rfft(even).real * dt  # per fs^-1
    gain = np.full(two_sided.size, 2.0)
    gain[0] = 1.0
    if size % 2 == 0:
        gain[-1] = 1.0
    frequency_cm1 = np.arange(two_sided.size) / (size * dt) / SPEED_OF_LIGHT_CM_FS
    return frequency_cm1, gain * two_sided * SPEED_OF_LIGHT_CM_FS


def line_fwhm_cm1(n_frames: int, n_lags: int, timestep_fs: float, window: str = 'hann', oversample: int = 16) -> float:
    """Full width at half maximum (cm^-1) of the spectrum of one pure line (the instrument function of
    :func:`power_spectrum`): the transform of the lag window times the biased estimator's taper 1 - tau/T, on a grid
    ``oversample`` times finer than the spectrum's. Two equal lines closer than about this are not separated; it is
    ~1/(c L dt) for L lags (1.3/(c T dt) with the Hann window over all T frames)."""
    tau = np.arange(n_lags)
    padded = np.zeros(oversample * n_lags)
    padded[:n_lags] = lag_window(n_lags, window) * (1.0 - tau / n_frames)
    frequency, density = spectral_density(padded, timestep_fs, 'none')
    density[0] *= 2  # the one-sided density counts the zero bin once, every other bin twice
    half = density[0] / 2
    k = int(np.argmax(density < half))
    return float(2 * np.interp(half, density[k - 1 : k + 1][::-1], frequency[k - 1 : k + 1][::-1]))


def power_spectrum(
    velocities: np.ndarray,
    symbols: list[str],
    timestep_fs: float,
    masses: np.ndarray | None = None,
    window: str = 'hann',
    max_lag_fs: float | None = None,
    remove_com: bool = True,
) -> PowerSpectrum:
    """Mass-weighted VACF and vibrational power spectrum, total and per element (see the module docstring).

    ``velocities`` (T, N, 3) angstrom/fs, frames ``timestep_fs`` apart; ``masses`` in amu (default: standard
    atomic weights of ``symbols``); ``max_lag_fs`` the longest correlation lag (default: the whole window).
    Densities in eV per cm^-1, integrating (sum times bin width) to 2 <E_kin> in eV.
    """
    v = _check_velocities(velocities)
    dt = _check_timestep(timestep_fs)
    n_frames, n_atoms, _ = v.shape
    symbols = [str(s) for s in symbols]
    if len(symbols) != n_atoms:
        raise ValueError(f'{len(symbols)} symbols for {n_atoms} atoms')
    if window not in WINDOWS:
        raise ValueError(f'unknown window {window!r}; known: {", ".join(WINDOWS)}')
    if n_frames < 2:
        raise ValueError('a spectrum needs at least 2 frames')
    m = atomic_masses(symbols) if masses is None else np.asarray(masses, dtype=float)
    if remove_com:
        v = remove_com_velocity(v, m)
    lags = n_frames if max_lag_fs is None else int(np.floor(max_lag_fs / dt + 1e-9)) + 1
    if not 2 <= lags <= n_frames:
        raise ValueError(
            f'max_lag_fs={max_lag_fs} gives {lags} lags; it must be between {dt:g} fs and the window '
            f'({(n_frames - 1) * dt:g} fs)'
        )
    groups = element_indices(symbols)
    vacf = {e: c * AMU_A2_FS2_EV for e, c in mass_weighted_vacf(v, m, groups, lags).items()}
    vacf_total = np.sum(list(vacf.values()), axis=0)
    frequency, total = spectral_density(vacf_total, dt, window)
    by_element = {e: spectral_density(c, dt, window)[1] for e, c in vacf.items()}
    resolution = float(frequency[1])
    return PowerSpectrum(
        frequency_cm1=frequency,
        total=total,
        by_element=by_element,
        lag_fs=np.arange(lags) * dt,
        vacf_total=vacf_total,
        vacf_by_element=vacf,
        elements=list(groups),
        n_atoms_by_element={e: int(i.size) for e, i in groups.items()},
        timestep_fs=dt,
        n_frames=n_frames,
        max_lag_fs=(lags - 1) * dt,
        window=window,
        resolution_cm1=resolution,
        integral_total=float(total.sum() * resolution),
        integral_by_element={e: float(s.sum() * resolution) for e, s in by_element.items()},
        com_velocity_removed=bool(remove_com),
    )


def cumulative_integral(frequency_cm1: np.ndarray, density: np.ndarray, upto_cm1: float) -> float:
    """Integral of ``density`` from 0 to ``upto_cm1`` (bin k covers nu_k +- d_nu/2, bin 0 only [0, d_nu/2])."""
    nu = np.asarray(frequency_cm1, dtype=float)
    s = np.asarray(density, dtype=float)
    step = nu[1] - nu[0]
    lower = np.maximum(nu - step / 2, 0.0)
    upper = nu + step / 2
    upper[-1] = nu[-1]  # the last bin (Nyquist, or the last of an odd transform) ends at its wavenumber
    width = upper - lower
    covered = np.clip(upto_cm1 - lower, 0.0, width)
    return float(np.sum(s * step * np.divide(covered, width, out=np.zeros_like(width), where=width > 0)))


def band_fractions(
    frequency_cm1: np.ndarray, density: np.ndarray, cutoff_cm1: float = ACOUSTIC_CUTOFF_CM1
) -> tuple[float, float]:
    """(acoustic, optical): fractions of the integral of ``density`` below and above ``cutoff_cm1``."""
    s = np.asarray(density, dtype=float)
    whole = float(s.sum() * (frequency_cm1[1] - frequency_cm1[0]))
    if whole <= 0:
        raise ValueError('the spectrum integrates to zero or less')
    acoustic = cumulative_integral(frequency_cm1, s, cutoff_cm1) / whole
    return acoustic, 1.0 - acoustic


def main_peak(frequency_cm1: np.ndarray, density: np.ndarray, min_cm1: float = 0.0) -> float:
    """Wavenumber (cm^-1) of the highest point of ``density`` at or above ``min_cm1``, refined by a parabola
    through the highest bin and its two neighbours.
    """
    nu = np.asarray(frequency_cm1, dtype=float)
    s = np.asarray(density, dtype=float)
    candidates = np.flatnonzero(nu >= min_cm1)
    if candidates.size == 0:
        raise ValueError(f'no wavenumber at or above {min_cm1} cm^-1')
    return parabolic_peak(nu, s, int(candidates[np.argmax(s[candidates])]))


def kinetic_temperature(integral_ev: float, n_atoms: int, constraints: int = 0) -> float:
    """Temperature (K) from 2 <E_kin> = ``integral_ev`` and equipartition over 3 n_atoms - constraints."""
    return float(integral_ev / ((3 * n_atoms - constraints) * KB_EV_K))
