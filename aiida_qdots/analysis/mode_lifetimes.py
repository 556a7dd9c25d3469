"""Per-mode phonon lifetimes from MD: mode-projected velocities, their autocorrelation, GLE friction and linewidths.

Mode velocity of normal mode k (mass-weighted eigenvector e_k): qdot_k(t) = sum_i e_k,i sqrt(m_i) v_i(t), in
sqrt(amu) angstrom/fs. Its normalised autocorrelation C_k(t) = <qdot(0) qdot(t)> / <qdot^2>.

Generalised Langevin equation (GLE) of a mode of angular frequency w: qddot = -w^2 q - int K(t-s) qdot(s) ds + noise,
whose Laplace transform gives C(s) = C(0) / (s + K(s) + w^2/s), so K(s) = 1/C(s) - s - w^2/s (C(0) = 1). At
s = i w the harmonic terms cancel: K(i w) = 1/C(i w), and Re K(i w) is the mode's damping rate at its own
frequency whatever the memory of the friction; an anharmonic shift of the frequency only moves Im K. The lifetime is

    tau = 1 / Re K(i w)   (fs),

the decay time of the mode's energy (and phonon population): the line of the velocity power spectrum is a Lorentzian
of angular FWHM Gamma = Re K(i w), so tau = 1/Gamma = 1/(2 pi FWHM) with FWHM in 1/fs. This is the usual phonon
lifetime: phono3py's tau = 1/(2 Gamma) with Gamma the imaginary part of the self-energy (a half width), and 1/(2 pi
FWHM) of DynaPhoPy's fitted 'Width (FWHM)' in THz (DynaPhoPy reports the width only); the seed study's route
(friction kernel by Laplace transform of the mode VACF, lifetime = 1/K) gives the same quantity. The VACF envelope
(the mode's coherent amplitude) decays twice as slowly, e^{-t/(2 tau)}: ``amplitude_lifetime_fs`` = 2 tau is returned
beside tau, so that neither is mistaken for the other. For Markovian friction K(s) = gamma at every s (a Langevin
oscillator) and tau = 1/gamma; with memory, K at real s (or at s = 0) differs from Re K(i w).

Modes whose C(t) has not decayed within the run get tau = inf (flag ``undamped``): a lifetime longer than the run is
not measured. The transforms are trapezoid sums (FFT), accurate while w dt < pi / 2 (no aliasing of the line).
Times in fs.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import curve_fit


def project_velocities(
    velocities: np.ndarray, masses: np.ndarray, eigenvectors: np.ndarray, chunk_frames: int = 2048
) -> np.ndarray:
    """(T, M) mode velocities of ``velocities`` (T, N, 3; angstrom/fs) on the columns of ``eigenvectors`` (3N, M),
    one BLAS matmul per chunk of frames (memory: one chunk of (chunk_frames, 3N) plus the output)."""
    n_frames = velocities.shape[0]
    weights = np.repeat(np.sqrt(np.asarray(masses, dtype=float)), 3)
    basis = eigenvectors * weights[:, None]
    out = np.empty((n_frames, eigenvectors.shape[1]))
    for start in range(0, n_frames, chunk_frames):
        block = np.asarray(velocities[start : start + chunk_frames], dtype=float).reshape(-1, weights.size)
        np.matmul(block, basis, out=out[start : start + chunk_frames])
    return out


def mode_autocorrelation(mode_velocities: np.ndarray, max_lag: int) -> np.ndarray:
    """Normalised autocorrelation (max_lag, M) of every column, unbiased (sum over T - lag products / (T - lag)),
    by zero-padded FFT."""
    x = np.asarray(mode_velocities, dtype=float)
    n = x.shape[0]
    if not 1 < max_lag <= n:
        raise ValueError(f'max_lag must be in 2..{n}, got {max_lag}')
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(x, size, axis=0)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, size, axis=0)[:max_lag] / (n - np.arange(max_lag))[:, None]
    return acf / acf[0]


def laplace_transform(c: np.ndarray, dt_fs: float, s) -> np.ndarray:
    """int_0^tmax C(t) e^{-st} dt (fs) for C on the lag grid k dt, exact for C piecewise linear between samples;
    ``c`` (L,) or (L, M) and ``s`` (M,) per column or a scalar, real or complex (1/fs)."""
    c = np.asarray(c, dtype=float)
    c2 = c[:, None] if c.ndim == 1 else c
    s = np.broadcast_to(np.asarray(s), (c2.shape[1],))
    t = np.arange(c2.shape[0])[:, None] * dt_fs
    x = s * dt_fs
    small = np.abs(x) < 1e-6
    xs = np.where(small, 1.0, x)
    # weights of c[k] and c[k+1] for the segment [t_k, t_k + dt]: integral of the linear interpolant times e^{-st}
    w0 = np.where(small, dt_fs / 2, dt_fs * (1 / xs - (1 - np.exp(-xs)) / xs**2))
    w1 = np.where(small, dt_fs / 2, dt_fs * ((1 - np.exp(-xs)) / xs**2 - np.exp(-xs) / xs))
    decay = np.exp(-s * t[:-1])
    total = np.sum(decay * (w0 * c2[:-1] + w1 * c2[1:]), axis=0)
    return total if c.ndim > 1 else total[0]


def friction_kernel(c: np.ndarray, dt_fs: float, angular_frequency, s: np.ndarray) -> np.ndarray:
    """K(s) = 1/C(s) - s - w^2/s (1/fs) of one mode's normalised VACF ``c`` on the grid ``s`` (1/fs, real or complex;
    s = i w' gives the friction at frequency w', truncated at the run's last lag)."""
    s = np.asarray(s)
    transform = np.array([laplace_transform(c, dt_fs, value) for value in s])
    return 1.0 / transform - s - angular_frequency**2 / s


def _resonant_friction(transform: np.ndarray, t_max: float, iterations: int = 30) -> np.ndarray:
    """z = 1/C(i w) (= K(i w) + i (w - W^2/w), W the effective frequency) from the transform C_T(i w) truncated at
    t_max: beyond t_max the resonant part of C(t) e^{-i w t} continues as e^{-z t/2} / 2 (the line's own decay and
    detuning), so C(i w) = C_T + e^{-z t_max/2} / z = 1/z, i.e. z C_T + e^{-z t_max/2} = 1, solved by Newton from
    z = 1/C_T (the nonzero root)."""
    z = 1.0 / transform
    for _ in range(iterations):
        tail = np.exp(-z * t_max / 2)
        z = z - (z * transform + tail - 1.0) / (transform - t_max / 2 * tail)
    return z


BAND_POINTS = 17
"""Frequencies w' over which :func:`gle_lifetimes` averages Re K(i w') across the line."""


def _friction_across_line(c: np.ndarray, dt_fs: float, omega: np.ndarray, band_halfwidth: float) -> tuple:
    """(Re K averaged across the line, K(i w), the line's peak w - Im K(i w) / 2) for the columns of ``c``: every
    C_T(i w') from one zero-padded FFT (trapezoid rule, read at the grid frequency nearest to each w', a quarter of
    2 pi / t_max apart)."""
    n_lags = c.shape[0]
    t_max = (n_lags - 1) * dt_fs
    size = 4 * n_lags
    spectrum = np.fft.rfft(c, size, axis=0)
    columns = np.arange(c.shape[1])

    def transform(frequency):
        index = np.clip(np.rint(frequency * dt_fs * size / (2 * np.pi)).astype(int), 1, spectrum.shape[0] - 1)
        grid = 2 * np.pi * index / (dt_fs * size)
        ends = 0.5 * (c[0] + c[-1] * np.exp(-1j * grid * t_max))
        return dt_fs * (spectrum[index, columns] - ends), grid

    at_grid, grid = transform(omega)
    at_omega = _resonant_friction(at_grid, t_max)
    pole = -at_omega.real / 2 + 1j * (grid - at_omega.imag / 2)
    half_band = band_halfwidth * np.maximum(np.abs(at_omega), 2 * np.pi / t_max)
    power, weight = np.zeros(omega.size), np.zeros(omega.size)
    for offset in np.linspace(-1.0, 1.0, BAND_POINTS):
        truncated, frequency = transform(np.maximum(omega + offset * half_band, 0.5 * omega))
        s = 1j * frequency
        # C beyond t_max, continued as the damped cosine Re e^{pole t}
        line = truncated + 0.5 * sum(np.exp((p - s) * t_max) / (s - p) for p in (pole, np.conj(pole)))
        power += line.real
        weight += np.abs(line) ** 2
    return power / weight, at_omega, pole.imag


def gle_lifetimes(
    c: np.ndarray,
    dt_fs: float,
    angular_frequencies: np.ndarray,
    undecayed_rms: float = 0.5,
    band_halfwidth: float = 3.0,
    chunk_modes: int = 256,
    run_fs: float | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """tau_k = 1/Re K_k(i w_k) (fs) from the VACFs ``c`` (L, M). K(i w') = 1/C(i w'), with C(i w') the complex
    Laplace transform of C, its truncation at the last lag closed by the line's own decay: the line's damping and
    peak from K(i w) (:func:`_resonant_friction`), then C beyond t_max continued as that damped cosine at every w'
    (exact for a line narrow against w). One frequency reads one noisy spectral bin, so Re K is averaged over
    :data:`BAND_POINTS` frequencies w' within ``band_halfwidth`` x max(|K(i w)|, 2 pi / t_max) of w, weighted by
    |C(i w')|^2 (the inverse variance of 1/C): Re K = sum Re C(i w') / sum |C(i w')|^2, which is exactly the damping
    for a Lorentzian line and its average over the line (width ~Re K, narrow against w) with memory. Modes are done
    ``chunk_modes`` at a time (memory: 2 L x chunk_modes complex numbers).
    tau = inf for modes whose C over the last tenth of the lags has an RMS above ``undecayed_rms`` (an undamped cosine
    has 0.71; the noise of a decayed C is ~sqrt(tau / run), so keep runs >> lifetimes), whose friction is not
    positive, or whose tau exceeds ``run_fs`` (the length of the run the VACFs come from: a friction at noise level
    reads as lifetimes of up to 1e65 fs, which the run cannot have measured). Details: ``friction_per_fs`` (Re K),
    ``friction_imag_per_fs`` (Im K(i w) + w - W^2/w, the detuning of
    the line from w), ``effective_angular_frequency_per_fs`` (the line's peak, w - Im / 2), ``amplitude_lifetime_fs``
    (2 tau, the decay time of the VACF envelope), ``undamped``.
    """
    c = np.asarray(c, dtype=float)
    omega = np.abs(np.asarray(angular_frequencies, dtype=float))
    friction, peak, at_omega = np.empty(omega.size), np.empty(omega.size), np.empty(omega.size, dtype=complex)
    for start in range(0, omega.size, chunk_modes):
        part = slice(start, start + chunk_modes)
        friction[part], at_omega[part], peak[part] = _friction_across_line(
            c[:, part], dt_fs, omega[part], band_halfwidth
        )
    tail = np.sqrt(np.mean(c[-max(2, c.shape[0] // 10) :] ** 2, axis=0))
    undamped = (tail > undecayed_rms) | ~(friction > 0)
    if run_fs is not None:
        undamped |= friction * float(run_fs) < 1.0
    tau = np.where(undamped, np.inf, 1.0 / np.where(friction > 0, friction, 1.0))
    return tau, {
        'friction_per_fs': friction,
        'friction_imag_per_fs': at_omega.imag,
        'effective_angular_frequency_per_fs': peak,
        'amplitude_lifetime_fs': 2 * tau,
        'undamped': undamped,
    }


def _hann_taper(n_lags: int) -> np.ndarray:
    """w(t) = (1 + cos(pi t / t_w)) / 2 on the lags t = k dt, t_w = n_lags dt (zero one step after the last lag)."""
    return 0.5 * (1 + np.cos(np.pi * np.arange(n_lags) / n_lags))


_TAPER_WEIGHTS = np.tile([0.5, 0.25, 0.25], 2)
_TAPER_SHIFTS = np.tile([0.0, 1.0, -1.0], 2)


def _tapered_langevin_line(omega, amplitude, omega0, gamma, t_w):
    """2 Re int_0^t_w w(t) C(t) e^{-i omega t} dt of a Langevin oscillator's VACF C(t) = amplitude Re[b e^{p t}]
    (p = -gamma/2 + i omega1, b = 1 + i gamma / (2 omega1)) under the Hann taper w of :func:`_hann_taper`: the exact
    line shape the tapered transform sees, a Lorentzian of angular FWHM gamma convolved with the taper's transform."""
    omega1 = np.sqrt(max(omega0**2 - gamma**2 / 4, 1e-30))
    residue, pole = 1 + 0.5j * gamma / omega1, -gamma / 2 + 1j * omega1
    # Re[b e^{pt}] = (b e^{pt} + conj) / 2 and w(t) = 1/2 + (e^{i pi t / t_w} + e^{-i pi t / t_w}) / 4: six exponentials
    b = np.repeat([residue, np.conj(residue)], 3)[:, None] * _TAPER_WEIGHTS[:, None]
    q = (np.repeat([pole, np.conj(pole)], 3) + 1j * np.pi / t_w * _TAPER_SHIFTS)[:, None] - 1j * omega
    return amplitude * np.sum(b * np.expm1(q * t_w) / q, axis=0).real


def lorentzian_lifetimes(
    c: np.ndarray, dt_fs: float, angular_frequencies: np.ndarray, min_decay: float = 2.0
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """tau_k = 1/gamma_k (fs), gamma the angular FWHM (1/(2 pi FWHM)) of a Langevin line fitted to the power spectrum
    of each mode's VACF (one-sided cosine transform under a Hann taper), the fitted line being the exact transform of
    the tapered Langevin VACF (:func:`_tapered_langevin_line`), so the taper's broadening is not read as damping.
    Modes whose fitted energy decay over the lags, gamma t_max, is below ``min_decay`` (the line is no wider than the
    taper's main lobe, ~4.5 / t_max) are ``resolution_limited``: tau = inf. Details: ``fwhm_thz``,
    ``amplitude_lifetime_fs`` (2 tau), ``resolution_limited``, ``resolution_thz`` (1 / t_max)."""
    c = np.asarray(c, dtype=float)
    n_lags, n_modes = c.shape
    tapered = c * _hann_taper(n_lags)[:, None]
    size = 4 * n_lags  # twice the spectral resolution of the even-extended lags
    spectrum = (
        np.fft.rfft(np.vstack([tapered, np.zeros((size - 2 * n_lags + 1, n_modes)), tapered[:0:-1]]), axis=0).real
        * dt_fs
    )
    omega_grid = 2 * np.pi * np.fft.rfftfreq(size, dt_fs)
    t_max = n_lags * dt_fs
    resolution = 2 * np.pi / t_max
    tau, width = np.full(n_modes, np.inf), np.full(n_modes, np.nan)
    limited = np.zeros(n_modes, dtype=bool)
    for k, omega0 in enumerate(np.abs(angular_frequencies)):
        window = (omega_grid > 0.5 * omega0) & (omega_grid < 1.5 * omega0)
        if omega0 <= 0 or window.sum() < 5:
            limited[k] = True
            continue
        x, y = omega_grid[window], spectrum[window, k]
        peak = x[np.argmax(y)]
        # fit around the peak: five half-maximum widths (taper main lobe ~4.5 / t_max included) or 20 / t_max
        half_maximum_width = np.count_nonzero(y > y.max() / 2) * (omega_grid[1] - omega_grid[0])
        near = np.abs(x - peak) < max(5 * half_maximum_width, 20 / t_max)
        if near.sum() >= 5:
            x, y = x[near], y[near]
        start = (1.0, peak, max(half_maximum_width - 4.5 / t_max, half_maximum_width / 2))  # C(0) = 1
        try:
            params, _ = curve_fit(
                lambda w, a, w0, g: _tapered_langevin_line(w, a, w0, g, t_max), x, y, p0=start, maxfev=5000
            )
        except RuntimeError:
            limited[k] = True
            continue
        width[k] = abs(params[2])
        limited[k] = width[k] * t_max < min_decay
        if not limited[k]:
            tau[k] = 1.0 / width[k]
    return tau, {
        'fwhm_thz': width / (2 * np.pi) * 1e3,
        'amplitude_lifetime_fs': 2 * tau,
        'resolution_limited': limited,
        'resolution_thz': resolution / (2 * np.pi) * 1e3,
    }


def band_statistics(
    frequency_thz, tau_fs, edges_thz, max_lag_fs: float, n_bootstrap: int = 1000, seed: int = 0
) -> list[dict]:
    """Per frequency band [edges[i], edges[i+1]) (THz): modes, modes resolved (finite tau), modes resolved with
    tau <= ``max_lag_fs`` / 3 (measured well inside the VACF window), the median lifetime of the resolved modes (ps)
    with its 95 % bootstrap interval over modes (``n_bootstrap`` resamples, ``seed``), the quartiles, and the share
    of resolved modes below 1 ps. Unresolved modes (tau = inf) count as longer than any resolved one: they are in
    ``n_modes`` and not in the median. The verdict ``converged`` is True when the band has resolved modes and at
    least 90 % of them lie within max_lag / 3."""
    f = np.asarray(frequency_thz, dtype=float)
    tau = np.asarray(tau_fs, dtype=float) / 1000.0
    rng = np.random.default_rng(seed)
    rows = []
    for low, high in itertools.pairwise(edges_thz):
        band = tau[(f >= low) & (f < high)]
        resolved = band[np.isfinite(band)]
        row = {'band_thz': [float(low), float(high)], 'n_modes': int(band.size), 'n_resolved': int(resolved.size)}
        well = int(np.sum(resolved <= max_lag_fs / 3000.0))
        row['n_within_window'] = well
        if resolved.size:
            medians = np.median(rng.choice(resolved, (n_bootstrap, resolved.size)), axis=1)
            row.update(
                median_ps=float(np.median(resolved)),
                median_ci95_ps=[float(x) for x in np.percentile(medians, [2.5, 97.5])],
                quartiles_ps=[float(x) for x in np.percentile(resolved, [25, 75])],
                fraction_below_1ps=float(np.mean(resolved < 1.0)),
            )
        row['converged'] = bool(resolved.size and well >= 0.9 * resolved.size)
        rows.append(row)
    return rows
