"""Whether a Study A number means anything: sample sizes, effective sample sizes and ``converged`` verdicts.
Pure NumPy.

Every summary of Study A (RMSF, power spectra, level statistics, dephasing, mean |NAC|, recombination) stores
a :class:`Verdict`: its sample size, an effective sample size or a blocking error, ``converged`` and the reason
(each criterion with its value and threshold). The thresholds are defined here, once:

* The standard error of a mean (:func:`standard_error`) is the larger of the blocking estimate
  (:mod:`aiida_qdots.analysis.electronic`) and ``std / sqrt(effective samples)``: a blocking analysis that has not
  reached its plateau cannot understate it.
* :data:`MAX_SEM_OVER_SIGMA` (levels): standard error of the mean over the standard deviation, i.e. about
  ``1 / sqrt(effective samples)``.
* :data:`MAX_RELATIVE_SEM` (RMSF, mean |NAC|): relative standard error of the reported number (for the RMSF half
  that of the element's per-frame mean-square fluctuation), from at least :data:`MIN_EFFECTIVE_SAMPLES`
  effective samples. No statistic sees motions slower than the window; the fast protocol's 60 fs fails this.
* :data:`MIN_FIT_POINTS`, :data:`MIN_DECORRELATION_TIMES` (dephasing): points of D(t) in the Gaussian fit;
  D(t) must fall to the fit floor within the lags; the window must span that many gap decorrelation times.
* :data:`SPECTRAL_BINS_BELOW_CUTOFF` (power spectra): the frequency resolution must put this many bins below the
  acoustic/optical boundary (120 cm^-1: a resolution of 12 cm^-1, a lag window of about 1.4 ps).
* :data:`MIN_HOPS` (recombination): realisations that hopped. With none, the recombination time is reported as
  a one-sided lower bound at :data:`CONFIDENCE` (:func:`zero_hop_lower_bound_fs`).
* :data:`MAX_DRIFT_Z` (stationarity of an NVE window, :func:`stationarity_verdict`): the difference of the mean
  temperature of the second and the first half over its standard error (:func:`standard_error` of each half's
  deviations from a line fitted to the window, added in quadrature). A window whose system still turns potential
  energy into heat (annealing) fails it.

Estimators (grid steps ``dt``; series may have holes, see :mod:`aiida_qdots.analysis.electronic`):

* normalised autocorrelation ``rho(k) = C(k) / C(0)`` at exact lags (:func:`lag_autocorrelation`);
* integrated autocorrelation time ``tau_int = dt (1/2 + sum_{k=1}^{M} rho(k))`` with Sokal's automatic window,
  the smallest M with ``M >= SOKAL_WINDOW tau_int / dt``; statistical inefficiency ``g = 2 tau_int / dt``
  (at least 1) and effective sample size ``N / g``. AR(1) with coefficient phi: ``g = (1 + phi) / (1 - phi)``;
* decorrelation time: the first lag at which rho falls below 1/e (linear interpolation), the time scale a window
  must exceed many times over (it is not fooled by the near-zero integral of an oscillating autocorrelation).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from aiida_qdots.analysis.electronic import MIN_BLOCKS, as_series, lag_autocorrelation, series_statistics

CONFIDENCE = 0.95
"""Confidence level of the zero-hop lower bound of a recombination time."""
MAX_SEM_OVER_SIGMA = 0.15
"""Levels: blocking SEM / sigma at most this (at least ~44 effective samples; sigma then good to ~11 %)."""
MAX_RELATIVE_SEM = 0.1
"""RMSF (of the mean-square fluctuation) and mean |NAC|: blocking SEM / mean at most this."""
MIN_EFFECTIVE_SAMPLES = 5
"""RMSF and mean |NAC|: at least this many effective (independent) samples behind an error bar."""
MIN_FIT_POINTS = 5
"""Dephasing: the Gaussian fit of D(t) needs at least this many lags (else the sampling does not resolve it)."""
MIN_DECORRELATION_TIMES = 20.0
"""Dephasing: the window must span at least this many decorrelation times of the gap."""
SPECTRAL_BINS_BELOW_CUTOFF = 10
"""Power spectra: at least this many resolution bins below the acoustic/optical boundary."""
MIN_HOPS = 10
"""Recombination: at least this many realisations must hop (relative error of the rate ~ 1/sqrt(hops))."""
MIN_SERIES = 4
"""Fewer samples than this give no error estimate at all: the verdict is False without one."""
SOKAL_WINDOW = 5.0
"""Sokal's automatic window constant c of the integrated autocorrelation time."""
MAX_DRIFT_Z = 3.0
"""Stationarity: |second-half mean - first-half mean| / its standard error at most this (two-sided; 0.3 % false
alarms for Gaussian half means with exact errors)."""

THRESHOLDS = {
    'confidence': CONFIDENCE,
    'max_sem_over_sigma': MAX_SEM_OVER_SIGMA,
    'max_relative_sem': MAX_RELATIVE_SEM,
    'min_effective_samples': MIN_EFFECTIVE_SAMPLES,
    'min_fit_points': MIN_FIT_POINTS,
    'min_decorrelation_times': MIN_DECORRELATION_TIMES,
    'spectral_bins_below_cutoff': SPECTRAL_BINS_BELOW_CUTOFF,
    'min_hops': MIN_HOPS,
    'sokal_window': SOKAL_WINDOW,
    'max_drift_z': MAX_DRIFT_Z,
}
"""Every threshold by name, as stored beside the verdicts."""


@dataclasses.dataclass
class Correlation:
    """Correlation of one series: ``n_samples``; integrated autocorrelation time and decorrelation (1/e) time in
    grid steps (``decorrelation_steps`` None when rho stays above 1/e over the lags computed); statistical
    inefficiency and effective sample size.
    """

    n_samples: int
    integrated_steps: float
    decorrelation_steps: float | None
    inefficiency: float
    effective_samples: float


@dataclasses.dataclass
class Verdict:
    """Whether one quantity is converged: ``criteria`` name -> (value, threshold, passed); ``reason`` says which
    failed (or that all passed); ``n_samples``, ``effective_samples`` and ``error`` (standard error in the
    quantity's units, when there is one).
    """

    quantity: str
    converged: bool
    reason: str
    n_samples: int
    effective_samples: float | None
    error: float | None
    criteria: dict[str, dict]

    def as_dict(self) -> dict:
        """JSON-able form (stored under ``convergence`` in the summaries)."""
        return {
            'converged': self.converged,
            'reason': self.reason,
            'n_samples': self.n_samples,
            'effective_samples': _finite(self.effective_samples),
            'error': _finite(self.error),
            'criteria': self.criteria,
        }


def _finite(value) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def correlation(values, positions=None) -> Correlation:
    """Integrated autocorrelation time (Sokal window), decorrelation time and effective sample size of ``values``
    sampled at the integer grid ``positions`` (default 0, 1, ...; see the module docstring).
    """
    x = as_series(values, min_length=MIN_SERIES)
    n = x.size
    if np.ptp(x) == 0:
        return Correlation(n, 0.5, 0.0, 1.0, float(n))
    acf, _ = lag_autocorrelation(x, positions, None, 'biased')
    acf = acf[: max(2, acf.size // 2)]
    rho = _fill_gaps(acf) / acf[0]
    tau = 0.5 + np.cumsum(rho[1:])
    windows = np.flatnonzero(np.arange(1, rho.size) >= SOKAL_WINDOW * tau)
    integrated = float(tau[windows[0]] if windows.size else tau[-1])
    inefficiency = max(2.0 * integrated, 1.0)
    return Correlation(n, integrated, decorrelation_lag(rho), inefficiency, n / inefficiency)


def decorrelation_lag(rho) -> float | None:
    """First lag (grid steps) at which the normalised autocorrelation ``rho`` falls below 1/e, linearly
    interpolated; None when it never does.
    """
    rho = np.asarray(rho, dtype=float)
    below = np.flatnonzero(rho < math.exp(-1.0))
    if not below.size:
        return None
    k = int(below[0])
    return float(k - 1 + (rho[k - 1] - math.exp(-1.0)) / (rho[k - 1] - rho[k]))


def _fill_gaps(acf: np.ndarray) -> np.ndarray:
    """``acf`` with its NaN lags (no pair of samples) linearly interpolated between their neighbours."""
    known = np.isfinite(acf)
    if known.all():
        return acf
    lags = np.arange(acf.size)
    return np.interp(lags, lags[known], acf[known])


def _criterion(value, threshold, passed: bool) -> dict:
    return {'value': _finite(value) if value is not None else None, 'threshold': threshold, 'passed': bool(passed)}


def verdict(quantity: str, criteria: dict[str, tuple], n_samples: int, effective, error, texts: dict) -> Verdict:
    """A :class:`Verdict` from ``criteria`` name -> (value, threshold, passed) and the sentence of each failure."""
    table = {name: _criterion(*c) for name, c in criteria.items()}
    failed = [texts[name] for name, c in table.items() if not c['passed']]
    reason = '; '.join(failed) if failed else 'all criteria met: ' + ', '.join(texts[name] for name in table)
    return Verdict(quantity, not failed, reason, int(n_samples), effective, error, table)


def _min_blocks(n: int) -> int:
    return max(2, min(MIN_BLOCKS, n // 2))


def _too_few(quantity: str, n: int) -> Verdict:
    criteria = {'n_samples': _criterion(n, MIN_SERIES, False)}
    return Verdict(quantity, False, f'{n} samples: too few for an error estimate', n, None, None, criteria)


def standard_error(values, positions=None) -> tuple[float, float, bool]:
    """Standard error of the mean of a correlated series: the larger of the blocking estimate and
    ``std / sqrt(effective samples)`` (Sokal), so that a blocking analysis short of its plateau cannot
    understate it; with the effective sample size and whether the blocking plateau was reached.
    """
    x = as_series(values, min_length=MIN_SERIES)
    stats = series_statistics(x, 'series', max(2, min(MIN_BLOCKS, x.size // 2)), positions)
    effective = correlation(x, positions).effective_samples
    return max(stats.sem, float(x.std()) / math.sqrt(effective)), effective, stats.converged


def level_verdict(quantity: str, values, positions=None) -> Verdict:
    """Verdict on the mean and standard deviation of a level series (eV): standard error of the mean
    (:func:`standard_error`) over sigma at most :data:`MAX_SEM_OVER_SIGMA`.
    """
    x = as_series(values, quantity, min_length=1)
    if x.size < MIN_SERIES:
        return _too_few(quantity, x.size)
    sem, effective, plateau = standard_error(x, positions)
    sigma = float(x.std())
    ratio = sem / sigma if sigma > 0 else 0.0
    texts = {
        'sem_over_sigma': f'SEM/sigma = {ratio:.3g} (max {MAX_SEM_OVER_SIGMA}; {effective:.3g} effective of '
        f'{x.size} samples{"" if plateau else ", no blocking plateau"})',
    }
    criteria = {'sem_over_sigma': (ratio, MAX_SEM_OVER_SIGMA, ratio <= MAX_SEM_OVER_SIGMA)}
    return verdict(quantity, criteria, x.size, effective, sem, texts)


def mean_verdict(quantity: str, values, positions=None, exponent: float = 1.0) -> Verdict:
    """Verdict on a reported ``mean ** exponent`` of a positive per-frame series (the mean |NAC|; the RMSF,
    exponent 1/2, from the mean-square fluctuation): its relative standard error ``exponent x SEM / mean``
    (:func:`standard_error`) at most :data:`MAX_RELATIVE_SEM`, from at least :data:`MIN_EFFECTIVE_SAMPLES`.
    """
    x = as_series(values, quantity, min_length=1)
    if x.size < MIN_SERIES:
        return _too_few(quantity, x.size)
    sem, effective, plateau = standard_error(x, positions)
    mean = float(x.mean())
    ratio = exponent * sem / abs(mean) if mean != 0 else math.inf
    texts = {
        'relative_sem': f'relative SEM = {ratio:.3g} (max {MAX_RELATIVE_SEM}'
        f'{"" if plateau else "; no blocking plateau"})',
        'effective_samples': f'{effective:.3g} effective of {x.size} samples (min {MIN_EFFECTIVE_SAMPLES})',
    }
    criteria = {
        'relative_sem': (ratio, MAX_RELATIVE_SEM, ratio <= MAX_RELATIVE_SEM),
        'effective_samples': (effective, MIN_EFFECTIVE_SAMPLES, effective >= MIN_EFFECTIVE_SAMPLES),
    }
    return verdict(quantity, criteria, x.size, effective, ratio * abs(mean) ** exponent, texts)


def dephasing_verdict(
    n_fit_points: int, decayed: bool, window_fs: float, decorrelation_fs: float | None, n_samples: int, effective
) -> Verdict:
    """Verdict on a Gaussian dephasing time: at least :data:`MIN_FIT_POINTS` points of D(t) in the fit, D(t)
    decayed to the fit floor within the lags, and a window of at least :data:`MIN_DECORRELATION_TIMES` gap
    decorrelation times (``decorrelation_fs`` None: the gap never decorrelated within half the window).
    """
    spans = window_fs / decorrelation_fs if decorrelation_fs else 0.0
    decorrelation = f'{decorrelation_fs:.3g} fs' if decorrelation_fs is not None else 'more than half the window'
    texts = {
        'fit_points': f'{n_fit_points} points of D(t) in the Gaussian fit (min {MIN_FIT_POINTS})',
        'decayed': f'D(t) {"reaches" if decayed else "does not reach"} the fit floor within the lags',
        'window_over_decorrelation': f'window {window_fs:.4g} fs = {spans:.3g} gap decorrelation times '
        f'({decorrelation}; min {MIN_DECORRELATION_TIMES:g})',
    }
    criteria = {
        'fit_points': (n_fit_points, MIN_FIT_POINTS, n_fit_points >= MIN_FIT_POINTS),
        'decayed': (None, True, decayed),
        'window_over_decorrelation': (spans, MIN_DECORRELATION_TIMES, spans >= MIN_DECORRELATION_TIMES),
    }
    return verdict('dephasing', criteria, n_samples, effective, None, texts)


def spectrum_verdict(resolution_cm1: float, cutoff_cm1: float, n_frames: int, duration_fs: float) -> Verdict:
    """Verdict on a power spectrum: at least :data:`SPECTRAL_BINS_BELOW_CUTOFF` resolution bins below the
    acoustic/optical boundary ``cutoff_cm1``.
    """
    bins = cutoff_cm1 / resolution_cm1
    texts = {
        'bins_below_cutoff': f'resolution {resolution_cm1:.3g} cm^-1 = {bins:.3g} bins below {cutoff_cm1:g} cm^-1 '
        f'(min {SPECTRAL_BINS_BELOW_CUTOFF}; window {duration_fs:.4g} fs)',
    }
    criteria = {'bins_below_cutoff': (bins, SPECTRAL_BINS_BELOW_CUTOFF, bins >= SPECTRAL_BINS_BELOW_CUTOFF)}
    return verdict('spectra', criteria, n_frames, None, None, texts)


def zero_hop_lower_bound_fs(n_realisations: int, duration_fs: float, confidence: float = CONFIDENCE) -> float:
    """One-sided lower bound (fs) of an exponential recombination time when none of ``n_realisations``, each
    followed for ``duration_fs``, hopped: ``N T / ln(1 / (1 - confidence))``.

    Zero hops has probability ``exp(-N T / tau)`` (binomial with per-realisation survival exp(-T/tau), or
    Poisson with mean N T / tau: the same); the bound is the tau at which that probability is 1 - confidence
    (for 95 %, the "rule of three": N T / 3.0).
    """
    if not 0 < confidence < 1:
        raise ValueError(f'confidence must be between 0 and 1, got {confidence}')
    if n_realisations < 1 or not duration_fs > 0:
        raise ValueError(f'need realisations and a positive duration, got {n_realisations}, {duration_fs}')
    return float(n_realisations * duration_fs / -math.log1p(-confidence))


def recombination_verdict(n_hopped: int, n_realisations: int, duration_fs: float) -> tuple[Verdict, float | None]:
    """Verdict on a DISH recombination time (at least :data:`MIN_HOPS` realisations hopped), and the zero-hop
    lower bound (fs, at :data:`CONFIDENCE`) when none did.
    """
    bound = zero_hop_lower_bound_fs(n_realisations, duration_fs) if n_hopped == 0 else None
    texts = {'hops': f'{n_hopped} of {n_realisations} realisations hopped in {duration_fs:.4g} fs (min {MIN_HOPS})'}
    if bound is not None:
        texts['hops'] += f'; tau >= {bound / 1e6:.3g} ns ({CONFIDENCE:.0%} one-sided, zero-count rule)'
    criteria = {'hops': (n_hopped, MIN_HOPS, n_hopped >= MIN_HOPS)}
    return verdict('recombination', criteria, n_realisations, n_hopped, None, texts), bound


def stationarity_verdict(values, time_fs, quantity: str = 'T', unit: str = 'K') -> tuple[Verdict, dict]:
    """Verdict on whether the series ``values`` (e.g. the temperature of an NVE window, K) sampled at ``time_fs``
    is stationary: its first- and second-half means differ by at most :data:`MAX_DRIFT_Z` standard errors
    (:func:`standard_error` of each half's deviations from a straight line fitted to the whole series, so that
    a drift does not widen its own error bar; with an odd length the middle sample is left out). Also the numbers:
    ``mean``, ``first_half_mean``, ``second_half_mean``, ``difference_error`` (``unit``), ``z`` and the slope of a
    linear fit ``trend_per_ps`` (``unit``/ps), for the reason and for storage.
    """
    x = as_series(values, quantity, min_length=1)
    t = as_series(time_fs, 'time_fs', min_length=1)
    if t.size != x.size:
        raise ValueError(f'{x.size} values but {t.size} times')
    half = x.size // 2
    if half < MIN_SERIES:
        return _too_few(f'stationarity of {quantity}', x.size), {'mean': float(x.mean())}
    first, second = x[:half], x[x.size - half :]
    trend = np.polyfit((t - t[0]) / 1000.0, x, 1)
    # the errors come from the fluctuations about the fitted line: a drift must not inflate its own error bar
    residual = x - np.polyval(trend, (t - t[0]) / 1000.0)
    error = math.hypot(standard_error(residual[:half])[0], standard_error(residual[x.size - half :])[0])
    difference = float(second.mean() - first.mean())
    z = difference / error if error > 0 else (0.0 if difference == 0 else math.copysign(math.inf, difference))
    numbers = {
        'mean': float(x.mean()),
        'first_half_mean': float(first.mean()),
        'second_half_mean': float(second.mean()),
        'difference_error': error,
        'z': _finite(z),
        'trend_per_ps': float(trend[0]),
    }
    change = 'rises' if difference > 0 else 'falls' if difference < 0 else 'stays'
    texts = {
        'half_means': f'{quantity} {change} {numbers["first_half_mean"]:.4g} -> {numbers["second_half_mean"]:.4g} '
        f'{unit} from the first to the second half of the {t[-1] - t[0]:.4g} fs window (z = {z:.3g}, max '
        f'{MAX_DRIFT_Z:g}; trend {numbers["trend_per_ps"]:+.3g} {unit}/ps)',
    }
    criteria = {'half_means': (abs(z), MAX_DRIFT_Z, abs(z) <= MAX_DRIFT_Z)}
    return verdict(f'stationarity of {quantity}', criteria, x.size, None, error, texts), numbers


def combined_verdict(quantity: str, parts: dict[str, Verdict]) -> Verdict:
    """One verdict over several parts (the elements of an RMSF): converged when every part is; the reason names
    the parts that are not; the smallest sample and effective sample sizes.
    """
    failed = [f'{name}: {part.reason}' for name, part in parts.items() if not part.converged]
    effective = [part.effective_samples for part in parts.values() if part.effective_samples is not None]
    return Verdict(
        quantity,
        not failed,
        '; '.join(failed) if failed else f'all of {", ".join(parts)} converged',
        min(part.n_samples for part in parts.values()),
        min(effective) if effective else None,
        None,
        {name: {'converged': part.converged, 'criteria': part.criteria} for name, part in parts.items()},
    )


def verdict_text(stored: dict | None) -> str:
    """One line for a stored verdict (:meth:`Verdict.as_dict`): ``converged (...)`` or ``NOT converged: ...``;
    ``no verdict`` for results stored before verdicts existed.
    """
    if not stored:
        return 'no verdict'
    if stored['converged']:
        return f'converged (n = {stored["n_samples"]})'
    return f'NOT converged: {stored["reason"]}'


def verdict_tag(stored: dict | None) -> str:
    """A short tag for figure legends and titles: ``converged``, ``NOT converged (n = 12)`` or ``no verdict``."""
    if not stored:
        return 'no verdict'
    return 'converged' if stored['converged'] else f'NOT converged (n = {stored["n_samples"]})'
