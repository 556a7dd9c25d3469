"""Pure-dephasing function of an energy gap from the second-order cumulant, and its decay times. Pure NumPy/SciPy.

Conventions (energies in eV, times in fs, hbar = :data:`~aiida_qdots.common.units.HBAR_EV_FS` eV fs):

* Gap fluctuation ``dE(t) = E(t) - <E>``; unnormalised autocorrelation (eV^2), by FFT with zero padding (no
  circular wrap-around)::

      C(k dt) = (1/N) sum_{t=0}^{N-1-k} dE(t) dE(t + k)        (``biased``, default; C(0) = sigma^2)
      C(k dt) = (1/(N-k)) sum_{t=0}^{N-1-k} dE(t) dE(t + k)    (``unbiased``)

* Cumulant ``g(t) = hbar^-2 int_0^t dt1 int_0^t1 dt2 C(t2)`` and dephasing function ``D(t) = exp(-g(t))``
  (exact for Gaussian fluctuations). **Quadrature:** the double integral of the piecewise-linear interpolant of
  C is computed exactly, by the recursion (h = dt)::

      I_{k+1} = I_k + h (C_k + C_{k+1}) / 2,       G_{k+1} = G_k + h I_k + h^2 (2 C_k + C_{k+1}) / 6,

  g = G / hbar^2 (the inner integral is the cumulative trapezoid rule; constant C gives sigma^2 t^2 / 2 exactly).
* Decay times, each labelled by its convention name (:data:`CONVENTIONS`):

  - ``gaussian_cumulant`` (the paper's form): least-squares fit of D(t) by ``exp(-(t/tau)^2 / 2)``;
  - ``pyxaid_gaussian``: fit by ``exp(-(t/tau)^2)`` (PYXAID's form; sqrt(2) x the above for a Gaussian D);
  - ``exponential_cumulant``: fit by ``exp(-t/tau)`` (the fast-modulation, motional-narrowing form);
  - ``one_over_e``: the time at which g(t) = 1, i.e. D = 1/e (linear interpolation of g between lags);
  - ``gaussian_short_time``: ``hbar / sigma``, the analytic short-time limit of the paper's convention
    (``g(t) -> sigma^2 t^2 / (2 hbar^2)``);
  - ``libra_sigma``: ``sqrt(12/5) hbar / sigma``, the Libra estimate.

  The fits use the lags ``0 <= t <= t_fit``, where ``t_fit`` is the first lag with ``D <= fit_floor`` (1e-2 by
  default; all lags when D never gets there), or ``t <= fit_max_fs`` when that is given. A fit on fewer than
  :data:`MIN_FIT_POINTS` lags is flagged ``resolved = False``: the gap was sampled too coarsely for its decay.
* **Missing frames:** a gap series with holes is given with its integer grid ``positions`` (from the frame
  times, :func:`~aiida_qdots.analysis.electronic.sampling_grid`); C(k dt) then averages the pairs exactly k grid
  steps apart (:func:`~aiida_qdots.analysis.electronic.lag_autocorrelation`), so the cumulant integrates the
  correlation over the true times. Only a lag without any pair is interpolated linearly between its neighbours;
  their number is reported (``n_interpolated_lags``).
* **Verdict** (:func:`~aiida_qdots.analysis.convergence.dephasing_verdict`): fit points, decay within the lags and
  the window against the gap's decorrelation time.

Analytic reference (used by the tests): for Gaussian noise with ``C(t) = sigma^2 exp(-|t|/tau_c)`` (Kubo),
``g(t) = (sigma tau_c / hbar)^2 (t/tau_c - 1 + exp(-t/tau_c))`` (:func:`kubo_cumulant`): Gaussian with
tau = hbar/sigma when ``sigma tau_c / hbar >> 1`` (slow modulation), exponential with
``T2 = hbar^2 / (sigma^2 tau_c)`` when ``sigma tau_c / hbar << 1`` (fast modulation, motional narrowing).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.optimize import curve_fit

from aiida_qdots.analysis.convergence import MIN_FIT_POINTS, Verdict, correlation, dephasing_verdict
from aiida_qdots.analysis.electronic import as_series, lag_autocorrelation
from aiida_qdots.common.units import HBAR_EV_FS

PAPER_CONVENTION = 'gaussian_cumulant'
"""The dephasing time the paper reports: Gaussian fit exp(-(t/tau)^2/2) of the cumulant dephasing function."""

CONVENTIONS = {
    'gaussian_cumulant': "least-squares fit of D(t) = exp(-g(t)) by exp(-(t/tau)^2/2) (the paper's form)",
    'pyxaid_gaussian': 'least-squares fit of D(t) by exp(-(t/tau)^2) (PYXAID form; sqrt(2) x gaussian_cumulant '
    'for a Gaussian D)',
    'exponential_cumulant': 'least-squares fit of D(t) by exp(-t/tau)',
    'one_over_e': 'time at which D(t) = 1/e (g(t) = 1), linear interpolation of g between lags',
    'gaussian_short_time': 'hbar/sigma_gap: analytic short-time limit of the exp(-(t/tau)^2/2) convention',
    'libra_sigma': 'sqrt(12/5) hbar/sigma_gap (Libra estimate)',
}
"""Convention name -> description of every dephasing time :func:`dephasing_analysis` reports."""

MODELS = {
    'gaussian_cumulant': lambda t, tau: np.exp(-0.5 * (t / tau) ** 2),
    'pyxaid_gaussian': lambda t, tau: np.exp(-((t / tau) ** 2)),
    'exponential_cumulant': lambda t, tau: np.exp(-t / tau),
}
"""Fitted model functions D_model(t, tau) of the fitted conventions."""

ESTIMATORS = ('biased', 'unbiased')
FIT_FLOOR = 1e-2
"""Default: the fits stop at the first lag where D(t) has fallen to this value."""
LIBRA_FACTOR = math.sqrt(12.0 / 5.0)


@dataclasses.dataclass
class DephasingResult:
    """Autocorrelation, cumulant and dephasing function of a gap series, with the decay times of each convention.

    Arrays on the lag grid ``time_fs`` (fs): ``acf`` (eV^2, unnormalised), ``cumulant`` g(t) (dimensionless),
    ``dephasing`` D(t) = exp(-g); ``fitted[name]`` the fitted model curve of each fitted convention.
    ``times_fs[name]`` the decay time (fs) of every convention of :data:`CONVENTIONS` (None when a fit failed);
    ``fit_rms[name]`` the RMS residual of each fit on the fit window ``[0, fit_window_fs]`` (``n_fit_points``
    lags). ``mean_ev`` / ``sigma_ev``: mean and standard deviation (ddof=0) of the gap.
    """

    time_fs: np.ndarray
    acf: np.ndarray
    cumulant: np.ndarray
    dephasing: np.ndarray
    fitted: dict[str, np.ndarray]
    times_fs: dict[str, float | None]
    fit_rms: dict[str, float | None]
    mean_ev: float
    sigma_ev: float
    dt_fs: float
    n_samples: int
    estimator: str
    fit_floor: float
    fit_window_fs: float
    n_fit_points: int
    resolved: bool
    decayed: bool
    duration_fs: float
    n_interpolated_lags: int
    decorrelation_fs: float | None
    convergence: Verdict

    @property
    def paper_time_fs(self) -> float | None:
        """The paper's dephasing time (``gaussian_cumulant``), fs."""
        return self.times_fs[PAPER_CONVENTION]


def autocorrelation(values, n_lags: int | None = None, estimator: str = 'biased', positions=None) -> np.ndarray:
    """Unnormalised autocorrelation (units of ``values`` squared) of the fluctuations of ``values`` at lags
    0 .. n_lags - 1 grid steps (default: all), by zero-padded FFT; ``estimator`` ``biased`` (1/N) or ``unbiased``
    (1/(N - k)); ``positions``: integer grid points of a series with holes (module docstring). Lags without a
    pair of samples are NaN.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f'estimator must be one of {list(ESTIMATORS)}, got {estimator!r}')
    return lag_autocorrelation(values, positions, n_lags, estimator)[0]


def cumulant(acf, dt_fs: float) -> np.ndarray:
    """g(t_k) = hbar^-2 int_0^t_k int_0^t1 C(t2) (dimensionless) on the lag grid of ``acf`` (eV^2), exact for the
    piecewise-linear interpolant of C (see the module docstring).
    """
    c = np.asarray(acf, dtype=float)
    h = _positive(dt_fs, 'dt_fs')
    inner = np.concatenate([[0.0], np.cumsum(h * (c[:-1] + c[1:]) / 2.0)])
    outer_steps = h * inner[:-1] + h * h * (2.0 * c[:-1] + c[1:]) / 6.0
    return np.concatenate([[0.0], np.cumsum(outer_steps)]) / HBAR_EV_FS**2


def kubo_cumulant(time_fs, sigma_ev: float, tau_c_fs: float) -> np.ndarray:
    """Analytic g(t) for Gaussian fluctuations with C(t) = sigma^2 exp(-|t|/tau_c):
    ``(sigma tau_c / hbar)^2 (t/tau_c - 1 + exp(-t/tau_c))``.
    """
    t = np.asarray(time_fs, dtype=float)
    x = t / tau_c_fs
    return (sigma_ev * tau_c_fs / HBAR_EV_FS) ** 2 * (x - 1.0 + np.exp(-x))


def gaussian_short_time_tau(sigma_ev: float) -> float:
    """hbar/sigma (fs): the exp(-(t/tau)^2/2) dephasing time in the short-time (slow-modulation) limit."""
    return HBAR_EV_FS / _positive(sigma_ev, 'sigma_ev')


def libra_tau(sigma_ev: float) -> float:
    """sqrt(12/5) hbar/sigma (fs), the Libra dephasing-time estimate."""
    return LIBRA_FACTOR * HBAR_EV_FS / _positive(sigma_ev, 'sigma_ev')


def motional_narrowing_t2(sigma_ev: float, tau_c_fs: float) -> float:
    """hbar^2 / (sigma^2 tau_c) (fs): the exponential dephasing time of Kubo noise in the fast-modulation limit."""
    return HBAR_EV_FS**2 / (_positive(sigma_ev, 'sigma_ev') ** 2 * _positive(tau_c_fs, 'tau_c_fs'))


def one_over_e_time(time_fs, cumulant_values) -> float | None:
    """First time (fs) at which g(t) reaches 1 (D = 1/e), linearly interpolated; None when it never does."""
    t = np.asarray(time_fs, dtype=float)
    g = np.asarray(cumulant_values, dtype=float)
    above = np.flatnonzero(g >= 1.0)
    if not above.size:
        return None
    k = int(above[0])
    if k == 0:
        return 0.0
    return float(t[k - 1] + (1.0 - g[k - 1]) * (t[k] - t[k - 1]) / (g[k] - g[k - 1]))


def fit_window(time_fs, dephasing, fit_floor: float = FIT_FLOOR, fit_max_fs: float | None = None) -> np.ndarray:
    """Boolean mask of the lags used by the fits (see the module docstring)."""
    t = np.asarray(time_fs, dtype=float)
    d = np.asarray(dephasing, dtype=float)
    if fit_max_fs is not None:
        mask = t <= _positive(fit_max_fs, 'fit_max_fs') * (1 + 1e-12)
    else:
        if not 0.0 < fit_floor < 1.0:
            raise ValueError(f'fit_floor must be between 0 and 1, got {fit_floor}')
        below = np.flatnonzero(d <= fit_floor)
        stop = int(below[0]) + 1 if below.size else t.size
        mask = np.arange(t.size) < stop
    if mask.sum() < 2:
        raise ValueError(f'the fit window holds {int(mask.sum())} lag(s); need at least 2')
    return mask


def fit_decay(time_fs, dephasing, convention: str, guess_fs: float | None = None) -> tuple[float, float]:
    """Least-squares decay time (fs) of ``dephasing`` by the model of ``convention`` (:data:`MODELS`), and the RMS
    residual; RuntimeError when the fit does not converge.
    """
    if convention not in MODELS:
        raise ValueError(f'no fitted model for convention {convention!r}; fitted conventions: {list(MODELS)}')
    t = np.asarray(time_fs, dtype=float)
    d = np.asarray(dephasing, dtype=float)
    model = MODELS[convention]
    guess = guess_fs if guess_fs is not None and guess_fs > 0 else max(t[-1] / 2.0, 1e-3)
    (tau,), _ = curve_fit(model, t, d, p0=[guess], bounds=(1e-12, np.inf), maxfev=10000)
    rms = float(np.sqrt(np.mean((model(t, tau) - d) ** 2)))
    return float(tau), rms


def dephasing_analysis(
    gap,
    dt_fs: float,
    max_lag_fs: float | None = None,
    estimator: str = 'biased',
    fit_floor: float = FIT_FLOOR,
    fit_max_fs: float | None = None,
    positions=None,
) -> DephasingResult:
    """Autocorrelation, cumulant, dephasing function and decay times (every convention) of the gap series ``gap``
    (eV) sampled every ``dt_fs`` fs, or at the integer grid ``positions`` of step ``dt_fs`` when frames are
    missing; lags up to ``max_lag_fs`` (default: half the window).
    """
    x = as_series(gap, 'gap', min_length=4)
    dt = _positive(dt_fs, 'dt_fs')
    length = x.size if positions is None else int(positions[-1] - positions[0]) + 1
    n_lags = length // 2 if max_lag_fs is None else math.floor(_positive(max_lag_fs, 'max_lag_fs') / dt + 1e-9) + 1
    if not 2 <= n_lags <= length:
        raise ValueError(f'max_lag_fs={max_lag_fs} gives {n_lags} lags; the series allows 2..{length}')
    acf = autocorrelation(x, n_lags, estimator, positions)
    missing = ~np.isfinite(acf)
    if missing.any():
        lags = np.arange(n_lags)
        acf = np.interp(lags, lags[~missing], acf[~missing])
    g = cumulant(acf, dt)
    d = np.exp(-g)
    t = dt * np.arange(n_lags)
    sigma = 0.0 if np.ptp(x) == 0 else float(x.std())  # = sqrt(C(0)) of the biased estimator
    mask = fit_window(t, d, fit_floor, fit_max_fs)
    times: dict[str, float | None] = {}
    rms: dict[str, float | None] = {}
    fitted: dict[str, np.ndarray] = {}
    one_e = one_over_e_time(t, g)
    guesses = {'gaussian_cumulant': 1.0 / math.sqrt(2.0), 'pyxaid_gaussian': 1.0, 'exponential_cumulant': 1.0}
    for name, factor in guesses.items():
        guess = factor * one_e if one_e else None
        times[name], rms[name] = None, None
        if sigma == 0:  # a constant gap never dephases
            continue
        try:
            times[name], rms[name] = fit_decay(t[mask], d[mask], name, guess)
            fitted[name] = MODELS[name](t, times[name])
        except RuntimeError:
            pass
    times['one_over_e'] = one_e
    times['gaussian_short_time'] = gaussian_short_time_tau(sigma) if sigma > 0 else None
    times['libra_sigma'] = libra_tau(sigma) if sigma > 0 else None
    duration = dt * (length - 1)
    gap_correlation = correlation(x, positions)
    decorrelation = None if gap_correlation.decorrelation_steps is None else gap_correlation.decorrelation_steps * dt
    resolved, decayed = bool(mask.sum() >= MIN_FIT_POINTS), bool(d[-1] <= fit_floor)
    verdict = dephasing_verdict(
        int(mask.sum()), decayed, duration, decorrelation, x.size, gap_correlation.effective_samples
    )
    return DephasingResult(
        time_fs=t,
        acf=acf,
        cumulant=g,
        dephasing=d,
        fitted=fitted,
        times_fs={name: times[name] for name in CONVENTIONS},
        fit_rms=rms,
        mean_ev=float(x.mean()),
        sigma_ev=sigma,
        dt_fs=dt,
        n_samples=int(x.size),
        estimator=estimator,
        fit_floor=float(fit_floor),
        fit_window_fs=float(t[mask][-1]),
        n_fit_points=int(mask.sum()),
        resolved=resolved,
        decayed=decayed,
        duration_fs=duration,
        n_interpolated_lags=int(missing.sum()),
        decorrelation_fs=decorrelation,
        convergence=verdict,
    )


def pair_dephasing_times(energies, dt_fs: float, convention: str = PAPER_CONVENTION, **options) -> np.ndarray:
    """Matrix (n, n) of the dephasing times (fs, ``convention``) of every gap E_i - E_j of ``energies`` (T, n) eV;
    infinite on the diagonal. ``options`` go to :func:`dephasing_analysis`.
    """
    e = np.asarray(energies, dtype=float)
    if e.ndim != 2 or e.shape[1] < 2:
        raise ValueError(f'energies must have shape (frames, states >= 2), got {e.shape}')
    if convention not in CONVENTIONS:
        raise ValueError(f'unknown convention {convention!r}; known: {list(CONVENTIONS)}')
    n = e.shape[1]
    tau = np.full((n, n), np.inf)
    for i in range(n):
        for j in range(i + 1, n):
            value = dephasing_analysis(e[:, j] - e[:, i], dt_fs, **options).times_fs[convention]
            if value is None:
                raise ValueError(f'the {convention} dephasing time of states {i}, {j} could not be determined')
            tau[i, j] = tau[j, i] = value
    return tau


def _positive(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f'{name} must be a positive finite number, got {value}')
    return value
