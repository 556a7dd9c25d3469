"""VACF power-spectrum kernels (pure NumPy/SciPy): known frequencies, Parseval, projections, the real AIMD data."""

import numpy as np
import pytest
from aimd_reference import LAST_FRAMES, parsed_trajectory

from aiida_qdots.analysis.fluctuations import atomic_masses
from aiida_qdots.analysis.spectra import (
    AMU_A2_FS2_EV,
    band_fractions,
    central_difference_velocities,
    cumulative_integral,
    kinetic_temperature,
    lag_window,
    main_peak,
    mass_weighted_vacf,
    power_spectrum,
    remove_com_velocity,
    spectral_density,
)
from aiida_qdots.common.units import KB_EV_K, SPEED_OF_LIGHT_CM_FS


def angular_frequency(wavenumber_cm1: float) -> float:
    """omega (rad/fs) of a wavenumber (cm^-1)."""
    return 2 * np.pi * SPEED_OF_LIGHT_CM_FS * wavenumber_cm1


def oscillators(wavenumbers, n_frames=4096, dt=1.0, seed=0, amplitude=0.1):
    """Each atom oscillates harmonically along a random direction at its own wavenumber (cm^-1), random phase.

    Returns positions (T, N, 3) angstrom and the analytic velocities (T, N, 3) angstrom/fs.
    """
    rng = np.random.default_rng(seed)
    wavenumbers = np.asarray(wavenumbers, dtype=float)
    directions = rng.normal(size=(wavenumbers.size, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    phases = rng.uniform(0, 2 * np.pi, wavenumbers.size)
    omega = angular_frequency(wavenumbers)
    t = np.arange(n_frames)[:, None] * dt
    centres = rng.uniform(-3, 3, size=(wavenumbers.size, 3))
    x = centres + amplitude * np.sin(omega * t + phases)[..., None] * directions
    v = amplitude * (omega * np.cos(omega * t + phases))[..., None] * directions
    return x, v


def velocity_verlet_diatomic(k_ev_a2, masses, n_frames, dt_store=1.0, substeps=4, seed=3):
    """A diatomic on a harmonic spring (k in eV/A^2, rest length 2.6 A) integrated by velocity Verlet.

    Stretched along a random axis and given a centre-of-mass drift; frames every ``dt_store`` fs. Returns
    positions (T, 2, 3) angstrom and velocities (T, 2, 3) angstrom/fs.
    """
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    m = np.asarray(masses, dtype=float)
    x = np.array([np.zeros(3), (2.6 + 0.08) * axis])
    v = np.tile(rng.normal(scale=2e-3, size=3), (2, 1))  # common drift (angstrom/fs)
    h = dt_store / substeps

    def acceleration(pos):
        bond = pos[1] - pos[0]
        length = np.linalg.norm(bond)
        force = -k_ev_a2 * (length - 2.6) * bond / length  # on atom 1, eV/A
        return np.array([-force, force]) / m[:, None] / AMU_A2_FS2_EV  # angstrom/fs^2

    positions, velocities = np.empty((n_frames, 2, 3)), np.empty((n_frames, 2, 3))
    a = acceleration(x)
    for frame in range(n_frames):
        positions[frame], velocities[frame] = x, v
        for _ in range(substeps):
            v = v + 0.5 * h * a
            x = x + h * v
            a = acceleration(x)
            v = v + 0.5 * h * a
    return positions, velocities


# ------------------------------------------------------------------------------------------ velocities


def test_central_differences_of_a_sine():
    """x = A sin(w t): interior (x[t+1] - x[t-1]) / 2dt = A w cos(w t) sin(w dt)/(w dt); ends second order."""
    dt = 1.0
    x, v = oscillators([150.0, 300.0, 600.0], n_frames=500, dt=dt)
    estimate = central_difference_velocities(x, dt)
    omega = angular_frequency(np.array([150.0, 300.0, 600.0]))
    damping = np.sin(omega * dt) / (omega * dt)
    np.testing.assert_allclose(estimate[1:-1], v[1:-1] * damping[None, :, None], atol=1e-12)
    speed = 0.1 * omega[None, :, None]
    # relative error of the interior ~ (w dt)^2 / 6, of the one-sided ends ~ (w dt)^2 / 3
    assert np.all(np.abs(estimate[1:-1] - v[1:-1]) <= speed * (omega[None, :, None] * dt) ** 2 / 6 * 1.001)
    assert np.all(np.abs(estimate[[0, -1]] - v[[0, -1]]) <= speed * (omega[None, :, None] * dt) ** 2 / 3 * 1.01)
    # at 300 cm^-1 and 1 fs the interior damping is 0.05 %
    assert 1 - damping[1] == pytest.approx(5.3e-4, rel=0.02)
    with pytest.raises(ValueError, match='at least 3 frames'):
        central_difference_velocities(x[:2], dt)


def test_remove_com_velocity():
    rng = np.random.default_rng(1)
    v = rng.normal(size=(20, 5, 3))
    m = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    out = remove_com_velocity(v, m)
    np.testing.assert_allclose(np.einsum('tni,n->ti', out, m), 0.0, atol=1e-12)
    np.testing.assert_allclose(out - v, (out - v)[:, :1].repeat(5, axis=1))  # one shift per frame


# -------------------------------------------------------------------------------------------- VACF


def test_fft_vacf_equals_the_per_lag_sum():
    """The FFT estimator is the biased sum (1/T) sum_t m v(t).v(t+tau), with no circular wrap-around."""
    rng = np.random.default_rng(2)
    n_frames = 300
    v = rng.normal(size=(n_frames, 7, 3)) + np.sin(np.arange(n_frames) / 5.0)[:, None, None]
    m = rng.uniform(1, 100, size=7)
    groups = {'a': np.array([0, 2, 5]), 'b': np.array([1, 3, 4, 6])}
    fast = mass_weighted_vacf(v, m, groups, max_lag=120)
    for name, atoms in groups.items():
        direct = np.array(
            [
                np.sum(m[atoms][None, :, None] * v[: n_frames - tau, atoms] * v[tau:, atoms]) / n_frames
                for tau in range(120)
            ]
        )
        np.testing.assert_allclose(fast[name], direct, rtol=1e-10, atol=1e-10)
    full = mass_weighted_vacf(v, m, {'all': np.arange(7)})['all']
    assert full.shape == (n_frames,)
    assert full[0] == pytest.approx(np.sum(m[None, :, None] * v**2) / n_frames)


def test_lag_windows():
    hann = lag_window(100, 'hann')
    assert hann[0] == 1.0 and hann[50] == pytest.approx(0.5) and 0 < hann[-1] < 1e-3
    assert np.all(np.diff(hann) < 0)
    np.testing.assert_array_equal(lag_window(10, 'none'), np.ones(10))
    with pytest.raises(ValueError, match='unknown window'):
        lag_window(10, 'blackman')


# ---------------------------------------------------------------------------------------- spectra


@pytest.mark.parametrize('window', ['hann', 'none'])
def test_harmonic_oscillators_give_their_frequency(window):
    """Atoms oscillating at 180 cm^-1: the spectrum peaks there, within one bin (0.68 cm^-1 at 8192 fs)."""
    x, v = oscillators([180.0] * 6, n_frames=8192)
    spectrum = power_spectrum(v, ['Se'] * 6, 1.0, window=window, remove_com=False)
    # 8192 lags, even extension padded to 16384 points: bins 1 / (16384 fs c) apart
    assert spectrum.resolution_cm1 == pytest.approx(1 / (16384 * SPEED_OF_LIGHT_CM_FS), rel=1e-12)
    peak = main_peak(spectrum.frequency_cm1, spectrum.total)
    assert abs(peak - 180.0) < spectrum.resolution_cm1
    # the same from central differences of the positions
    from_positions = power_spectrum(
        central_difference_velocities(x, 1.0), ['Se'] * 6, 1.0, window=window, remove_com=False
    )
    assert abs(main_peak(from_positions.frequency_cm1, from_positions.total) - 180.0) < spectrum.resolution_cm1
    # all weight is near 180: essentially nothing below 120 cm^-1
    assert band_fractions(spectrum.frequency_cm1, spectrum.total)[1] > 0.99


def test_diatomic_gives_its_analytic_frequency():
    """Cd-Se on a spring k = 5 eV/A^2: nu = sqrt(k/mu)/(2 pi c) = 171.2 cm^-1, integrated by velocity Verlet.

    Momentum conservation fixes the split of the kinetic energy: Cd / Se = m_Se / m_Cd, exactly.
    """
    masses = atomic_masses(['Cd', 'Se'])
    mu = masses.prod() / masses.sum()
    k = 5.0
    expected = np.sqrt(k / mu / AMU_A2_FS2_EV) / (2 * np.pi * SPEED_OF_LIGHT_CM_FS)
    assert expected == pytest.approx(171.2, abs=0.05)
    x, v = velocity_verlet_diatomic(k, masses, n_frames=6000)
    for velocities in (v, central_difference_velocities(x, 1.0)):
        spectrum = power_spectrum(velocities, ['Cd', 'Se'], 1.0)
        for density in (spectrum.total, spectrum.by_element['Cd'], spectrum.by_element['Se']):
            assert abs(main_peak(spectrum.frequency_cm1, density) - expected) < spectrum.resolution_cm1 / 2
    spectrum = power_spectrum(v, ['Cd', 'Se'], 1.0)
    ratio = spectrum.integral_by_element['Cd'] / spectrum.integral_by_element['Se']
    assert ratio == pytest.approx(masses[1] / masses[0], rel=1e-9)
    # with the drift kept, a zero-frequency line appears and takes weight from the vibration
    drifting = power_spectrum(v, ['Cd', 'Se'], 1.0, remove_com=False)
    assert drifting.integral_total > spectrum.integral_total
    assert main_peak(drifting.frequency_cm1, drifting.total, min_cm1=50) == pytest.approx(expected, abs=1.0)


@pytest.mark.parametrize(('window', 'max_lag_fs'), [('hann', None), ('none', None), ('hann', 300.0), ('none', 511.0)])
def test_parseval_integral_is_mass_weighted_mean_square_velocity(window, max_lag_fs):
    """sum(S) * d_nu = sum_n m_n <|v_n|^2> (eV), for the total and each element, whatever the window."""
    rng = np.random.default_rng(4)
    symbols = ['Cd'] * 4 + ['Se'] * 3 + ['Cl'] * 2
    # correlated noise (an AR(1) process per coordinate) plus two oscillations
    noise = rng.normal(scale=0.01, size=(2000, 9, 3))
    v = np.empty_like(noise)
    v[0] = noise[0]
    for t in range(1, 2000):
        v[t] = 0.9 * v[t - 1] + noise[t]
    _, waves = oscillators([40.0, 220.0] * 4 + [300.0], n_frames=2000, seed=5)
    v += waves
    m = atomic_masses(symbols)
    spectrum = power_spectrum(v, symbols, 0.5, window=window, max_lag_fs=max_lag_fs, remove_com=False)
    mean_square = np.mean(np.sum(m[None, :, None] * v**2, axis=2), axis=0) * AMU_A2_FS2_EV  # per atom, eV
    d_nu = spectrum.frequency_cm1[1]
    assert spectrum.resolution_cm1 == d_nu
    assert np.sum(spectrum.total) * d_nu == pytest.approx(mean_square.sum(), rel=1e-10)
    assert spectrum.integral_total == pytest.approx(mean_square.sum(), rel=1e-10)
    for element in ('Cd', 'Se', 'Cl'):
        atoms = [i for i, s in enumerate(symbols) if s == element]
        assert np.sum(spectrum.by_element[element]) * d_nu == pytest.approx(mean_square[atoms].sum(), rel=1e-10)
        assert spectrum.vacf_by_element[element][0] == pytest.approx(mean_square[atoms].sum(), rel=1e-12)
    # element projections add up to the total, bin by bin
    np.testing.assert_allclose(sum(spectrum.by_element.values()), spectrum.total, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(sum(spectrum.vacf_by_element.values()), spectrum.vacf_total, rtol=1e-12, atol=1e-15)
    # the wavenumber axis runs from 0 to the Nyquist wavenumber 1 / (2 dt c)
    assert spectrum.frequency_cm1[0] == 0.0
    assert spectrum.frequency_cm1[-1] == pytest.approx(1 / (2 * 0.5 * SPEED_OF_LIGHT_CM_FS), rel=1e-3)
    assert spectrum.lag_fs[-1] == (spectrum.vacf_total.size - 1) * 0.5


def test_full_lag_spectrum_without_window_is_the_periodogram():
    """With all lags and no window the biased estimator's transform is |FFT(v)|^2-like: never negative."""
    rng = np.random.default_rng(6)
    v = rng.normal(size=(500, 4, 3))
    spectrum = power_spectrum(v, ['Cd', 'Cd', 'Se', 'Cl'], 1.0, window='none')
    assert spectrum.total.min() > -1e-12 * spectrum.total.max()
    # the spectral density of a correlation is consistent with spectral_density directly
    nu, density = spectral_density(spectrum.vacf_total, 1.0, 'none')
    np.testing.assert_allclose(density, spectrum.total)
    np.testing.assert_allclose(nu, spectrum.frequency_cm1)


def test_acoustic_and_optical_fractions_follow_the_kinetic_energy():
    """Two groups at 50 and 200 cm^-1 with kinetic energies 1 : 3 give an acoustic fraction of 1/4."""
    n = 8
    _, slow = oscillators([50.0] * n, n_frames=8192, seed=7, amplitude=0.3)
    _, fast = oscillators([200.0] * n, n_frames=8192, seed=8, amplitude=0.3 * np.sqrt(3) * 50 / 200)
    v = np.concatenate([slow, fast], axis=1)
    spectrum = power_spectrum(v, ['Se'] * (2 * n), 1.0, remove_com=False)
    acoustic, optical = band_fractions(spectrum.frequency_cm1, spectrum.total, 120.0)
    assert acoustic + optical == pytest.approx(1.0, abs=1e-15)
    assert acoustic == pytest.approx(0.25, abs=0.005)
    # the boundary is a parameter
    assert band_fractions(spectrum.frequency_cm1, spectrum.total, 30.0)[0] < 0.01
    assert band_fractions(spectrum.frequency_cm1, spectrum.total, 250.0)[0] > 0.99
    whole = np.sum(spectrum.total) * spectrum.resolution_cm1
    assert cumulative_integral(spectrum.frequency_cm1, spectrum.total, 1e9) == pytest.approx(whole, rel=1e-12)
    assert cumulative_integral(spectrum.frequency_cm1, spectrum.total, 0.0) == 0.0


def test_main_peak_interpolates_between_bins():
    nu = np.arange(0, 100, 2.0)
    density = np.exp(-((nu - 41.3) ** 2) / 30.0)
    assert main_peak(nu, density) == pytest.approx(41.3, abs=0.2)
    assert main_peak(nu, density + 5 * (nu < 3), min_cm1=10) == pytest.approx(41.3, abs=0.2)
    with pytest.raises(ValueError, match='no wavenumber'):
        main_peak(nu, density, min_cm1=1000)


def test_bad_spectrum_input():
    v = np.zeros((100, 2, 3))
    with pytest.raises(ValueError, match='max_lag_fs'):
        power_spectrum(v, ['Cd', 'Se'], 1.0, max_lag_fs=500.0)
    with pytest.raises(ValueError, match='unknown window'):
        power_spectrum(v, ['Cd', 'Se'], 1.0, window='gauss')
    with pytest.raises(ValueError, match='time step'):
        power_spectrum(v, ['Cd', 'Se'], 0.0)
    with pytest.raises(ValueError, match='symbols'):
        power_spectrum(v, ['Cd'], 1.0)


# ------------------------------------------------------------------------------------------- real data


@pytest.fixture(scope='module')
def real_spectrum(shared_data_dir):
    """Spectrum of the last 10 000 frames; velocities by central differences that use frame 4999 too."""
    parsed = parsed_trajectory(shared_data_dir)
    positions = parsed.positions[-LAST_FRAMES - 1 :]
    velocities = central_difference_velocities(positions, 1.0)[1:]
    return power_spectrum(velocities, parsed.symbols, 1.0), parsed.symbols


def test_real_cd28se17cl22_spectrum(real_spectrum):
    """Last 10 ps of the Cd28Se17Cl22 AIMD at 1 fs per frame.

    Measured: kinetic temperature 299.6 K (3N - 3 degrees of freedom); main peak 45.5 cm^-1; acoustic fraction
    0.553, optical 0.447; element peaks Cd 45.1, Se 181.4, Cl 45.7 cm^-1; acoustic fractions of the element
    spectra Cd 0.703, Se 0.375, Cl 0.493.
    """
    spectrum, symbols = real_spectrum
    temperature = kinetic_temperature(spectrum.integral_total, len(symbols), 3)
    peak = main_peak(spectrum.frequency_cm1, spectrum.total)
    acoustic, optical = band_fractions(spectrum.frequency_cm1, spectrum.total)
    peaks = {e: main_peak(spectrum.frequency_cm1, spectrum.by_element[e]) for e in spectrum.elements}
    element_acoustic = {e: band_fractions(spectrum.frequency_cm1, spectrum.by_element[e])[0] for e in spectrum.elements}
    print(
        f'T = {temperature:.1f} K, peak {peak:.1f} cm^-1, acoustic {acoustic:.3f}, optical {optical:.3f}, '
        f'element peaks {peaks}, element acoustic fractions {element_acoustic}'
    )
    # equipartition at the source's 300 K confirms the 1 fs frame interval
    assert temperature == pytest.approx(300.0, abs=5.0)
    for element in ('Cd', 'Se', 'Cl'):
        per_element = spectrum.integral_by_element[element] / (3 * spectrum.n_atoms_by_element[element] * KB_EV_K)
        assert 260 < per_element < 330
    assert spectrum.resolution_cm1 == pytest.approx(1.668, abs=1e-3)
    assert peak == pytest.approx(45.5, abs=1.0)
    assert acoustic == pytest.approx(0.553, abs=2e-3) and optical == pytest.approx(0.447, abs=2e-3)
    # Se (the heavy anion inside the Cd shell) carries the optical band, Cd and Cl the acoustic one
    assert peaks['Se'] > 120 > max(peaks['Cd'], peaks['Cl'])
    assert element_acoustic['Cd'] > element_acoustic['Cl'] > element_acoustic['Se']
    # nothing above 400 cm^-1 but noise
    assert cumulative_integral(spectrum.frequency_cm1, spectrum.total, 400.0) / spectrum.integral_total > 0.995
