"""Per-mode phonon lifetimes from MD: mode-projected velocities, their autocorrelation, GLE friction and linewidths.

Mode velocity of normal mode k (mass-weighted eigenvector e_k): qdot_k(t) = sum_i e_k,i sqrt(m_i) v_i(t), in
sqrt(amu) angstrom/fs. Its normalised autocorrelation C_k(t) = <qdot(0) qdot(t)> / <qdot^2>.

Generalised Langevin equation (GLE) of a mode of angular frequency w: qddot = -w^2 q - int K(t-s) qdot(s) ds + noise,
whose Laplace transform gives C(s) = 1 / (s + K(s) + w^2/s), so K(s) = 1/C(s) - s - w^2/s. For Markovian friction
K(s) = gamma at every s (a Langevin oscillator), and the lifetime is tau = 1/gamma: the decay time of the mode's
energy, equal to 1/(2 pi FWHM) of the Lorentzian line of its velocity power spectrum (FWHM in 1/fs). The estimator
fits gamma + W^2/s to 1/C(s) - s for s ~ w (the transform there needs only a few periods of C(t)), with the
effective frequency W fitted too; ``friction_kernel`` gives K(s) on any grid to inspect the memory. Modes whose
C(t) has not decayed within the run get tau = inf (flag ``undamped``): a lifetime longer than the run is not
measured. Sample the velocities with omega dt << 1: the transform errs by O((omega dt)^2) (1 % in tau at
omega dt = 0.12). Times in fs.
"""

from __future__ import annotations

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


def laplace_transform(c: np.ndarray, dt_fs: float, s: np.ndarray) -> np.ndarray:
    """int_0^tmax C(t) e^{-st} dt (fs) for C on the lag grid k dt, exact for C piecewise linear between samples;
    ``c`` (L,) or (L, M) and ``s`` (M,) per column or a scalar."""
    c = np.asarray(c, dtype=float)
    c2 = c[:, None] if c.ndim == 1 else c
    s = np.broadcast_to(np.asarray(s, dtype=float), (c2.shape[1],))
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
    """K(s) = 1/C(s) - s - w^2/s (1/fs) of one mode's normalised VACF ``c`` on the grid ``s`` (1/fs)."""
    s = np.asarray(s, dtype=float)
    transform = np.array([laplace_transform(c, dt_fs, value) for value in s])
    return 1.0 / transform - s - angular_frequency**2 / s


S_FACTORS = (0.5, 0.75, 1.0, 1.5, 2.0)
"""Laplace variables s = factor * w at which :func:`gle_lifetimes` samples 1/C(s) - s."""


def gle_lifetimes(
    c: np.ndarray, dt_fs: float, angular_frequencies: np.ndarray, undecayed_rms: float = 0.5
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """tau_k = 1/gamma_k (fs) from the VACFs ``c`` (L, M): 1/C(s) - s = K(s) + W^2/s is fitted by gamma + W^2/s over
    s = :data:`S_FACTORS` x w_k, so that the mode's effective (anharmonic, thermal) frequency W is fitted rather than
    taken from the Hessian (a 1 % frequency shift would otherwise bias K by 2 % of w, more than most frictions).
    tau = inf for modes whose C over the last tenth of the lags has an RMS above ``undecayed_rms`` (an undamped
    cosine has 0.71; the noise of a decayed C is ~sqrt(tau / run), so keep runs >> lifetimes) or whose friction is
    not positive. Details: ``friction_per_fs``, ``effective_angular_frequency_per_fs``, ``undamped``.
    """
    omega = np.abs(np.asarray(angular_frequencies, dtype=float))
    s = np.array([factor * omega for factor in S_FACTORS])  # (S, M)
    y = np.array([1.0 / laplace_transform(c, dt_fs, row) for row in s]) - s
    x = 1.0 / s
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    slope = ((x - x_mean) * (y - y_mean)).sum(axis=0) / ((x - x_mean) ** 2).sum(axis=0)
    friction = y_mean - slope * x_mean
    tail = np.sqrt(np.mean(c[-max(2, c.shape[0] // 10) :] ** 2, axis=0))
    undamped = (tail > undecayed_rms) | (friction <= 0)
    tau = np.where(undamped, np.inf, 1.0 / np.where(friction > 0, friction, 1.0))
    return tau, {
        'friction_per_fs': friction,
        'effective_angular_frequency_per_fs': np.sqrt(np.abs(slope)),
        'undamped': undamped,
    }


def _langevin_line(omega, amplitude, omega0, gamma):
    """Velocity power spectrum of a Langevin oscillator: Lorentzian of angular FWHM gamma near omega0."""
    return amplitude * gamma * omega**2 / ((omega**2 - omega0**2) ** 2 + (gamma * omega) ** 2)


def lorentzian_lifetimes(
    c: np.ndarray, dt_fs: float, angular_frequencies: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """tau_k = 1/(2 pi FWHM_k) (fs) from a Langevin-line fit (angular FWHM gamma, tau = 1/gamma) to the power
    spectrum of each mode's VACF (one-sided cosine transform with a Hann taper); modes whose fitted width is below
    twice the spectral resolution 2 pi / t_max (the taper's main lobe) are ``resolution_limited``: tau = inf."""
    c = np.asarray(c, dtype=float)
    n_lags, n_modes = c.shape
    taper = np.hanning(2 * n_lags)[n_lags:][:, None]
    size = 8 * n_lags
    spectrum = (
        np.fft.rfft(np.vstack([c * taper, np.zeros((size - 2 * n_lags + 1, n_modes)), (c * taper)[:0:-1]]), axis=0).real
        * dt_fs
    )
    omega_grid = 2 * np.pi * np.fft.rfftfreq(size, dt_fs)
    resolution = 2 * np.pi / (n_lags * dt_fs)
    tau, width = np.full(n_modes, np.inf), np.full(n_modes, np.nan)
    limited = np.zeros(n_modes, dtype=bool)
    for k, omega0 in enumerate(np.abs(angular_frequencies)):
        window = (omega_grid > 0.5 * omega0) & (omega_grid < 1.5 * omega0)
        if omega0 <= 0 or window.sum() < 5:
            limited[k] = True
            continue
        x, y = omega_grid[window], spectrum[window, k]
        start = (y.max() * max(resolution, 1e-4), x[np.argmax(y)], max(resolution, 1e-4))
        try:
            params, _ = curve_fit(_langevin_line, x, y, p0=start, maxfev=5000)
        except RuntimeError:
            limited[k] = True
            continue
        width[k] = abs(params[2])
        limited[k] = width[k] < 2 * resolution
        if not limited[k]:
            tau[k] = 1.0 / width[k]
    return tau, {
        'fwhm_thz': width / (2 * np.pi) * 1e3,
        'resolution_limited': limited,
        'resolution_thz': resolution / (2 * np.pi) * 1e3,
    }
