"""Convergence verdicts and exact-lag statistics (pure NumPy) against analytic cases: AR(1) series of known
integrated autocorrelation time, white noise, the zero-hop bound, series with holes.
"""

import math

import numpy as np
import pytest
from scipy.signal import lfilter

from aiida_qdots.analysis.convergence import (
    CONFIDENCE,
    MAX_DRIFT_Z,
    MAX_SEM_OVER_SIGMA,
    MIN_DECORRELATION_TIMES,
    MIN_EFFECTIVE_SAMPLES,
    MIN_HOPS,
    THRESHOLDS,
    correlation,
    decorrelation_lag,
    dephasing_verdict,
    level_verdict,
    mean_verdict,
    recombination_verdict,
    spectrum_verdict,
    standard_error,
    stationarity_verdict,
    zero_hop_lower_bound_fs,
)
from aiida_qdots.analysis.electronic import lag_autocorrelation, sampling_grid, series_statistics


def ar1(n, phi, seed):
    """Stationary AR(1) series x_t = phi x_(t-1) + e_t: statistical inefficiency (1 + phi) / (1 - phi)."""
    rng = np.random.default_rng(seed)
    kicks = rng.standard_normal(n) * math.sqrt(1 - phi * phi)
    kicks[0] = rng.standard_normal()
    return lfilter([1.0], [1.0, -phi], kicks)


def with_holes(n, fraction, seed):
    """Sorted indices of ``n`` samples with ``fraction`` of them removed at random."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, n - round(fraction * n), replace=False))


@pytest.mark.parametrize('phi', [0.5, 0.9])
def test_ar1_effective_sample_size(phi):
    n = 200_000
    g = (1 + phi) / (1 - phi)
    result = correlation(ar1(n, phi, seed=3))
    assert result.inefficiency == pytest.approx(g, rel=0.05)
    assert result.effective_samples == pytest.approx(n / g, rel=0.05)
    assert result.integrated_steps == pytest.approx(g / 2, rel=0.05)
    assert result.decorrelation_steps == pytest.approx(-1 / math.log(phi), rel=0.1)  # rho(k) = phi^k = 1/e


def test_white_noise_effective_sample_size_is_n():
    n = 50_000
    result = correlation(np.random.default_rng(1).standard_normal(n))
    assert result.effective_samples == pytest.approx(n, rel=0.02)
    assert result.decorrelation_steps < 1


def test_holes_keep_the_effective_sample_size():
    phi, n = 0.9, 200_000
    x = ar1(n, phi, seed=4)
    keep = with_holes(n, 0.01, seed=5)
    full, holed = correlation(x), correlation(x[keep], keep)
    assert holed.inefficiency == pytest.approx(full.inefficiency, rel=0.03)
    assert holed.effective_samples == pytest.approx(0.99 * full.effective_samples, rel=0.03)


def test_exact_lag_autocorrelation_is_the_pair_average():
    x = np.random.default_rng(0).standard_normal(300)
    keep = with_holes(300, 0.1, seed=1)
    values, positions = x[keep], keep
    acf, pairs = lag_autocorrelation(values, positions, 40, 'unbiased')
    dx = values - values.mean()
    for lag in range(40):
        products = [dx[i] * dx[j] for i in range(keep.size) for j in range(i, keep.size) if keep[j] - keep[i] == lag]
        assert pairs[lag] == len(products)
        assert acf[lag] == pytest.approx(np.mean(products), rel=1e-10, abs=1e-14)
    # without holes the biased form is the 1/N estimator
    biased, _ = lag_autocorrelation(x, None, 5, 'biased')
    dx = x - x.mean()
    np.testing.assert_allclose(biased, [np.dot(dx[: x.size - k], dx[k:]) / x.size for k in range(5)], rtol=1e-10)


def test_sampling_grid_from_frame_times():
    step, positions = sampling_grid([10.0, 12.0, 16.0, 18.0])
    assert step == 2.0 and positions.tolist() == [0, 1, 3, 4]
    assert sampling_grid([0.0, 4.0, 8.0], step_fs=2.0)[1].tolist() == [0, 2, 4]
    with pytest.raises(ValueError, match='repeats'):
        sampling_grid([0.0, 2.0, 2.0, 4.0])
    with pytest.raises(ValueError, match='goes back'):
        sampling_grid([0.0, 4.0, 2.0])
    with pytest.raises(ValueError, match='whole number'):
        sampling_grid([0.0, 2.0, 5.0])


def test_blocking_on_the_grid_with_holes():
    x = ar1(100_000, 0.9, seed=6)
    keep = with_holes(x.size, 0.01, seed=7)
    full, holed = series_statistics(x), series_statistics(x[keep], positions=keep)
    assert holed.converged and holed.sem == pytest.approx(full.sem, rel=0.05)


def test_level_and_mean_verdicts():
    three = level_verdict('gap', [1.0, 1.1, 1.2])
    assert not three.converged and three.reason == '3 samples: too few for an error estimate'
    short = level_verdict('gap', ar1(12, 0.9, seed=1))
    assert not short.converged and 'SEM/sigma' in short.reason and short.n_samples == 12
    long = level_verdict('gap', ar1(20_000, 0.9, seed=1))
    assert long.converged and long.criteria['sem_over_sigma']['value'] < MAX_SEM_OVER_SIGMA
    assert long.effective_samples == pytest.approx(20_000 / 19, rel=0.25)
    assert long.error == pytest.approx(math.sqrt(19 / 20_000), rel=0.25)  # SEM of unit-variance AR(1)
    # the standard error never drops below std / sqrt(ESS), even when blocking stops short of its plateau
    sem, effective, _ = standard_error(ar1(400, 0.99, seed=2))
    x = ar1(400, 0.99, seed=2)
    assert sem >= x.std() / math.sqrt(effective) * (1 - 1e-12)
    positive = 1.0 + 0.1 * ar1(5000, 0.5, seed=2)
    assert mean_verdict('nac', positive).converged
    few = mean_verdict('nac', positive[:4])
    assert not few.converged and f'(min {MIN_EFFECTIVE_SAMPLES})' in few.reason
    noisy = mean_verdict('nac', np.abs(ar1(60, 0.9, seed=3)))  # |NAC|-like: CV ~ 0.75
    assert not noisy.converged and 'relative SEM' in noisy.reason
    # a square root halves the relative error (the RMSF from the mean-square fluctuation)
    msd = mean_verdict('msd', positive)
    rmsf = mean_verdict('rmsf', positive, exponent=0.5)
    assert rmsf.criteria['relative_sem']['value'] == pytest.approx(msd.criteria['relative_sem']['value'] / 2)
    assert rmsf.error == pytest.approx(msd.error / 2 / math.sqrt(positive.mean()))


def test_dephasing_verdict_criteria():
    ok = dephasing_verdict(12, True, 1000.0, 10.0, 500, 100.0)
    assert ok.converged and 'all criteria met' in ok.reason
    short = dephasing_verdict(12, True, 60.0, 10.0, 60, 6.0)
    assert not short.converged and f'min {MIN_DECORRELATION_TIMES:g}' in short.reason
    coarse = dephasing_verdict(2, True, 1000.0, 10.0, 50, 50.0)
    assert not coarse.converged and '2 points of D(t)' in coarse.reason
    never = dephasing_verdict(12, False, 1000.0, None, 50, 5.0)
    assert not never.converged and never.criteria['window_over_decorrelation']['value'] == 0.0
    assert decorrelation_lag([1.0, 0.5, 0.2]) == pytest.approx(1 + (0.5 - math.exp(-1)) / 0.3)


def test_spectrum_verdict():
    assert spectrum_verdict(10.0, 120.0, 5000, 5000.0).converged
    assert not spectrum_verdict(556.0, 120.0, 60, 59.0).converged


def test_zero_hop_bound_is_the_zero_count_rule():
    n, duration = 1000, 1e6
    bound = zero_hop_lower_bound_fs(n, duration)
    assert bound == pytest.approx(n * duration / math.log(20))  # N T / 3.00 at 95 %
    # the bound is the tau at which zero hops in N realisations has probability 1 - confidence
    assert (math.exp(-duration / bound)) ** n == pytest.approx(1 - CONFIDENCE)
    # Monte Carlo: exponential hop times with tau = the bound leave 5 % of 100-realisation ensembles without a hop
    small = zero_hop_lower_bound_fs(100, duration)
    hop_times = np.random.default_rng(0).exponential(small, size=(40_000, 100))
    assert np.mean((hop_times >= duration).all(axis=1)) == pytest.approx(1 - CONFIDENCE, abs=0.004)
    verdict, lower = recombination_verdict(0, n, duration)
    assert not verdict.converged and lower == bound and 'ns (95% one-sided' in verdict.reason
    verdict, lower = recombination_verdict(MIN_HOPS, n, duration)
    assert verdict.converged and lower is None and verdict.effective_samples == MIN_HOPS
    with pytest.raises(ValueError):
        zero_hop_lower_bound_fs(0, duration)


def test_thresholds_are_named_once():
    assert set(THRESHOLDS) >= {'max_sem_over_sigma', 'min_fit_points', 'min_hops', 'confidence'}


STATIONARY_PHI = 0.9
STATIONARY_N = 4000


def _drift_z(series):
    verdict, numbers = stationarity_verdict(series, np.arange(series.size, dtype=float))
    return verdict, numbers


def test_stationary_series_pass_at_the_nominal_false_alarm_rate():
    """200 stationary AR(1) series (tau_int = 9.5 steps): the half-mean z is ~N(0, 1) and |z| > 3 is rare (nominal
    0.3 %); a false alarm rate of a few % would mean the blocking errors understate the correlation."""
    zs = [_drift_z(300.0 + 30.0 * ar1(STATIONARY_N, STATIONARY_PHI, seed))[1]['z'] for seed in range(200)]
    zs = np.asarray(zs)
    assert 0.85 < zs.std() < 1.25 and abs(zs.mean()) < 0.2
    assert np.mean(np.abs(zs) > MAX_DRIFT_Z) <= 0.02


def test_a_linear_drift_of_a_few_sigma_is_flagged_with_its_size():
    """A linear rise whose half means differ by 6 standard errors of their difference (exact for AR(1): sigma
    sqrt(2 g / (N / 2)), g = (1 + phi) / (1 - phi)) is flagged in nearly every realisation, and the reason names
    the rise and the fitted trend (K/ps) within its noise."""
    g = (1 + STATIONARY_PHI) / (1 - STATIONARY_PHI)
    sigma = 30.0
    error = sigma * math.sqrt(2 * g / (STATIONARY_N / 2))
    rise = 2 * 6.0 * error  # half means of a linear ramp differ by half its total rise
    ramp = np.linspace(0.0, rise, STATIONARY_N)
    slope_per_ps = rise / ((STATIONARY_N - 1) / 1000.0)
    flagged, slopes = 0, []
    for seed in range(100):
        verdict, numbers = _drift_z(300.0 + ramp + sigma * ar1(STATIONARY_N, STATIONARY_PHI, seed))
        flagged += not verdict.converged
        slopes.append(numbers['trend_per_ps'])
    assert flagged >= 95
    assert abs(np.mean(slopes) - slope_per_ps) < 0.1 * slope_per_ps
    assert 'T rises' in verdict.reason and 'K/ps' in verdict.reason and f'max {MAX_DRIFT_Z:g}' in verdict.reason


def test_stationarity_of_a_constant_and_of_too_short_series():
    verdict, numbers = stationarity_verdict(np.full(100, 300.0), np.arange(100.0))
    assert verdict.converged and numbers['z'] == 0.0 and numbers['mean'] == 300.0
    verdict, _ = stationarity_verdict([300.0, 301.0, 302.0], [0.0, 1.0, 2.0])
    assert not verdict.converged and 'too few' in verdict.reason
    with pytest.raises(ValueError, match='times'):
        stationarity_verdict(np.ones(10), np.arange(9.0))


def test_the_shared_dft_trajectory_is_judged_stationary(shared_data_dir):
    """Real data: the public Cd28Se17Cl22 AIMD frames (1 fs apart, a 300 K run). Their kinetic temperature from
    central-difference velocities over the first 4 ps (the workstation protocol's NVE length) is ~300 K and judged
    stationary (measured on all 15 ps and on each 5 ps third: |z| <= 1.1)."""
    import gzip
    import itertools

    from aiida_qdots.analysis.fluctuations import atomic_masses
    from aiida_qdots.analysis.spectra import (
        AMU_A2_FS2_EV,
        central_difference_velocities,
        kinetic_temperature,
        remove_com_velocity,
    )

    n_atoms, n_frames = 67, 4000
    with gzip.open(shared_data_dir / 'cl_aimd_frames_1-15000.extxyz.gz', 'rt') as handle:
        lines = list(itertools.islice(handle, n_frames * (n_atoms + 2)))
    atoms = [line.split() for i, line in enumerate(lines) if i % (n_atoms + 2) >= 2]
    masses = atomic_masses([row[0] for row in atoms[:n_atoms]])
    positions = np.array([row[1:4] for row in atoms], dtype=float).reshape(n_frames, n_atoms, 3)
    velocities = remove_com_velocity(central_difference_velocities(positions, 1.0), masses)
    twice_kinetic = (masses[None, :, None] * velocities**2).sum(axis=(1, 2)) * AMU_A2_FS2_EV
    temperature = np.array([kinetic_temperature(value, n_atoms, 3) for value in twice_kinetic])
    verdict, numbers = stationarity_verdict(temperature, np.arange(n_frames, dtype=float))
    assert verdict.converged, verdict.reason
    assert abs(numbers['mean'] - 300.0) < 10.0
