"""Pure-dephasing analysis (pure NumPy): quadrature, Kubo noise in both limits, conventions, the real gap data."""

import math
import pathlib

import numpy as np
import pytest
from scipy.signal import lfilter

from aiida_qdots.analysis.dephasing import (
    CONVENTIONS,
    PAPER_CONVENTION,
    autocorrelation,
    cumulant,
    dephasing_analysis,
    fit_decay,
    fit_window,
    gaussian_short_time_tau,
    kubo_cumulant,
    libra_tau,
    motional_narrowing_t2,
    one_over_e_time,
    pair_dephasing_times,
)
from aiida_qdots.common.units import HBAR_EV_FS
from aiida_qdots.readers.levels import parse_levels_csv

LEVELS_2FS = 'Cl_QD_elec_1-10k.csv'
LEVELS_20FS = 'Cl_QD_elec_10k-15k_step_10.csv'


def ornstein_uhlenbeck(n: int, dt: float, sigma: float, tau_c: float, seed: int, n_series: int | None = None):
    """Exact discretisation of stationary Gaussian noise with C(t) = sigma^2 exp(-|t|/tau_c) (eV), (n,) or
    (n_series, n).
    """
    rng = np.random.default_rng(seed)
    a = math.exp(-dt / tau_c)
    shape = (n,) if n_series is None else (n_series, n)
    kicks = rng.standard_normal(shape) * sigma * math.sqrt(1.0 - a * a)
    kicks[..., 0] = rng.standard_normal(shape[:-1]) * sigma  # stationary start
    return lfilter([1.0], [1.0, -a], kicks, axis=-1)


def real_gap(shared_data_dir, name=LEVELS_2FS, stride=2):
    path = pathlib.Path(shared_data_dir) / name
    return parse_levels_csv(path.read_bytes(), path.name, stride).energies


# ------------------------------------------------------------------------------------------- kernels


@pytest.mark.parametrize('estimator', ['biased', 'unbiased'])
def test_autocorrelation_matches_direct_sum(estimator):
    x = np.random.default_rng(0).standard_normal(257) * 0.1 + 1.7
    dx = x - x.mean()
    lags = 40
    direct = np.array([np.dot(dx[: x.size - k], dx[k:]) for k in range(lags)])
    direct /= x.size if estimator == 'biased' else x.size - np.arange(lags)
    np.testing.assert_allclose(autocorrelation(x, lags, estimator), direct, rtol=1e-12, atol=1e-15)
    assert autocorrelation(x, 1, estimator)[0] == pytest.approx(x.var(), rel=1e-12)


def test_cumulant_quadrature_is_exact_for_constant_and_second_order_for_smooth_c():
    sigma, h = 0.07, 0.5
    t = h * np.arange(200)
    np.testing.assert_allclose(
        cumulant(np.full(t.size, sigma**2), h), sigma**2 * t**2 / (2 * HBAR_EV_FS**2), rtol=1e-12
    )
    # exponential C: error of the piecewise-linear interpolant, O(h^2)
    errors = []
    for step in (0.8, 0.4, 0.2):
        lag = step * np.arange(int(240 / step) + 1)
        exact = kubo_cumulant(lag, sigma, 30.0)
        numeric = cumulant(sigma**2 * np.exp(-lag / 30.0), step)
        errors.append(np.max(np.abs(numeric - exact)[1:] / exact[1:]))
    assert errors[-1] < 2e-5
    assert 3.5 < errors[0] / errors[1] < 4.5 and 3.5 < errors[1] / errors[2] < 4.5


def test_kubo_limits_are_gaussian_and_exponential():
    t = np.linspace(0, 5, 11)
    sigma, tau_c = 0.05, 1000.0  # slow modulation: g -> sigma^2 t^2 / (2 hbar^2)
    np.testing.assert_allclose(kubo_cumulant(t, sigma, tau_c), sigma**2 * t**2 / (2 * HBAR_EV_FS**2), rtol=2e-3)
    sigma, tau_c = 0.01, 0.5  # fast modulation: g -> t / T2 - const for t >> tau_c
    t = np.array([50.0, 100.0, 200.0])
    slope = np.diff(kubo_cumulant(t, sigma, tau_c)) / np.diff(t)
    np.testing.assert_allclose(slope, 1.0 / motional_narrowing_t2(sigma, tau_c), rtol=1e-12)


def test_cumulant_is_the_exact_dephasing_of_gaussian_noise():
    """<exp(-i int dE/hbar)> over many noise histories equals exp(-g) with the analytic Kubo g (second-order
    cumulant exact for Gaussian noise), in the crossover regime sigma tau_c / hbar = 1.
    """
    sigma, tau_c, dt = 0.05, 13.16, 0.25
    noise = ornstein_uhlenbeck(240, dt, sigma, tau_c, seed=3, n_series=10000)
    phase = (
        np.concatenate(
            [np.zeros((noise.shape[0], 1)), np.cumsum((noise[:, 1:] + noise[:, :-1]) / 2 * dt, axis=1)], axis=1
        )
        / HBAR_EV_FS
    )
    coherence = np.mean(np.exp(-1j * phase), axis=0)  # real in expectation (symmetric noise)
    t = dt * np.arange(noise.shape[1])
    expected = np.exp(-kubo_cumulant(t, sigma, tau_c))
    assert np.max(np.abs(coherence - expected)) < 0.04  # standard error <= 1/sqrt(10000) = 0.01 per lag
    assert expected[-1] < 0.05  # the comparison covers the whole decay


def test_slow_modulation_gaussian_time_is_hbar_over_sigma():
    sigma, tau_c, dt = 0.05, 200.0, 0.5  # sigma tau_c / hbar = 15
    gap = 1.7 + ornstein_uhlenbeck(4_000_000, dt, sigma, tau_c, seed=11)  # sampling error of C ~ 1.4 %
    result = dephasing_analysis(gap, dt, max_lag_fs=200.0)
    mask = result.time_fs <= result.fit_window_fs
    analytic = kubo_cumulant(result.time_fs[mask], sigma, tau_c)
    np.testing.assert_allclose(result.cumulant[mask][1:], analytic[1:], rtol=0.06)
    assert result.times_fs['gaussian_cumulant'] == pytest.approx(HBAR_EV_FS / sigma, rel=0.05)
    assert result.times_fs['gaussian_cumulant'] == pytest.approx(result.times_fs['gaussian_short_time'], rel=0.03)
    assert result.resolved and result.decayed
    assert result.fit_rms['gaussian_cumulant'] < result.fit_rms['exponential_cumulant']


def test_fast_modulation_exponential_time_is_motional_narrowing_t2():
    sigma, tau_c, dt = 0.02, 2.0, 0.5  # sigma tau_c / hbar = 0.06, T2 = 541 fs
    gap = 1.7 + ornstein_uhlenbeck(8_000_000, dt, sigma, tau_c, seed=5)  # error of g ~ 2 %
    result = dephasing_analysis(gap, dt, max_lag_fs=2500.0)
    t2 = motional_narrowing_t2(sigma, tau_c)
    mask = (result.time_fs >= 50) & (result.time_fs <= 2 * t2)
    np.testing.assert_allclose(result.cumulant[mask], kubo_cumulant(result.time_fs[mask], sigma, tau_c), rtol=0.08)
    assert result.times_fs['exponential_cumulant'] == pytest.approx(t2, rel=0.08)
    assert result.fit_rms['exponential_cumulant'] < result.fit_rms['gaussian_cumulant']
    # far from the Gaussian short-time estimate in this regime
    assert result.times_fs['gaussian_short_time'] < 0.1 * t2


def test_conventions_on_an_exact_gaussian_dephasing_function():
    tau = 7.0
    t = np.arange(0, 40, 0.1)
    d = np.exp(-0.5 * (t / tau) ** 2)
    assert fit_decay(t, d, 'gaussian_cumulant')[0] == pytest.approx(tau, rel=1e-9)
    assert fit_decay(t, d, 'pyxaid_gaussian')[0] == pytest.approx(math.sqrt(2) * tau, rel=1e-9)
    assert one_over_e_time(t, 0.5 * (t / tau) ** 2) == pytest.approx(math.sqrt(2) * tau, rel=1e-4)
    assert libra_tau(0.1) / gaussian_short_time_tau(0.1) == pytest.approx(math.sqrt(12 / 5))
    assert gaussian_short_time_tau(0.1) == pytest.approx(6.582119569)
    with pytest.raises(ValueError, match='no fitted model'):
        fit_decay(t, d, 'libra_sigma')


def test_constant_gap_never_dephases():
    result = dephasing_analysis(np.full(100, 1.7), 1.0)
    assert result.sigma_ev == 0 and np.all(result.dephasing == 1.0) and not result.decayed
    assert all(value is None for value in result.times_fs.values())


def test_fit_window_rules():
    t = np.arange(10.0)
    d = np.exp(-t)
    assert fit_window(t, d).sum() == 6  # D(5) = 0.0067 <= 0.01 is the last lag used
    assert fit_window(t, d, fit_max_fs=3.0).sum() == 4
    assert fit_window(t, np.ones(10)).all()
    with pytest.raises(ValueError):
        fit_window(t, d, fit_floor=1.5)


# ------------------------------------------------------------------------------------------- real data


def test_real_gap_gaussian_dephasing_time_is_hbar_over_sigma(shared_data_dir):
    """The paper's Gaussian fit on the real Cd28Se17Cl22 labels (2 fs) is hbar/sigma_gap within 5 %."""
    levels = real_gap(shared_data_dir)
    gap = levels['gap']
    result = dephasing_analysis(gap, 2.0)
    sigma = gap.std()
    assert result.sigma_ev == pytest.approx(sigma, rel=1e-12)
    tau = result.times_fs[PAPER_CONVENTION]
    assert tau == pytest.approx(HBAR_EV_FS / sigma, rel=0.05)
    assert set(result.times_fs) == set(CONVENTIONS)
    assert result.times_fs['pyxaid_gaussian'] == pytest.approx(math.sqrt(2) * tau, rel=0.02)
    assert result.times_fs['libra_sigma'] == pytest.approx(math.sqrt(12 / 5) * HBAR_EV_FS / sigma, rel=1e-12)
    assert result.resolved and result.n_fit_points >= 5
    assert result.acf[0] == pytest.approx(sigma**2) and result.dephasing[0] == 1.0
    assert np.all(np.diff(result.dephasing[: result.n_fit_points]) < 0)
    # HOMO-LUMO pair matrix (the DISH decoherence time of S0/S1)
    energies = np.stack([levels['homo'], levels['lumo']], axis=1)
    matrix = pair_dephasing_times(energies, 2.0)
    assert matrix[0, 1] == matrix[1, 0] == pytest.approx(tau, rel=1e-6) and np.isinf(matrix[0, 0])


def test_coarse_sampling_is_flagged(shared_data_dir):
    """The 20 fs labels resolve a ~9 fs Gaussian decay with too few lags: flagged, not silently reported."""
    gap = real_gap(shared_data_dir, LEVELS_20FS, 10)['gap']
    result = dephasing_analysis(gap, 20.0)
    assert not result.resolved and result.n_fit_points < 5


def test_missing_rows_use_exact_time_lags():
    """A 100 fs oscillation of the gap sampled every 2 fs with 10 % of the rows missing: on the grid of the frame
    times the autocorrelation and dephasing times match the full series; read as evenly spaced rows they do not.
    """
    dt, n = 2.0, 4000
    gap = 1.7 + 0.05 * np.cos(2 * np.pi * dt * np.arange(n) / 100.0)
    keep = np.sort(np.random.default_rng(0).choice(n, n - n // 10, replace=False))
    full = dephasing_analysis(gap, dt, max_lag_fs=200.0)
    exact = dephasing_analysis(gap[keep], dt, max_lag_fs=200.0, positions=keep)
    naive = dephasing_analysis(gap[keep], dt, max_lag_fs=200.0)
    assert np.abs(exact.acf - full.acf).max() < 0.01 * full.acf[0]
    assert np.abs(naive.acf - full.acf).max() > 0.5 * full.acf[0]
    for name in ('gaussian_cumulant', 'one_over_e'):
        assert exact.times_fs[name] == pytest.approx(full.times_fs[name], rel=0.01)
        assert naive.times_fs[name] != pytest.approx(full.times_fs[name], rel=0.05)
    assert exact.n_interpolated_lags == 0 and exact.duration_fs == full.duration_fs
