"""Thermal MSD against an Einstein solid (equipartition) and the invariance under rigid-body motion."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from aiida_qdots.analysis.thermal_msd import msd_by_element, msd_series, msd_temperature_slope
from aiida_qdots.common.units import KB_EV_K

K_SPRING = 2.0  # eV/A^2: Einstein solid, <|u|^2> = 3 kT / k for every atom whatever its mass


def einstein_frames(temperature, n_frames=4000, seed=0):
    rng = np.random.default_rng(seed)
    lattice = np.array([[x, y, z] for x in range(3) for y in range(3) for z in range(3)], dtype=float) * 3.0
    sigma = np.sqrt(KB_EV_K * temperature / K_SPRING)  # per Cartesian component
    frames = lattice + rng.normal(0.0, sigma, (n_frames, len(lattice), 3))
    symbols = ['Cd', 'Se'] * 13 + ['Cd']
    return frames, symbols


def test_einstein_solid_msd_is_linear_in_temperature_with_the_equipartition_slope():
    temperatures = [100.0, 200.0, 300.0, 400.0]
    values, errors = [], []
    for k, temperature in enumerate(temperatures):
        frames, symbols = einstein_frames(temperature, seed=k)
        result = msd_by_element(frames, symbols)
        expected = 3 * KB_EV_K * temperature / K_SPRING
        # alignment removes 6 of the 3N degrees of freedom: <u^2> (3N - 6) / 3N of the raw value
        assert result['all']['msd_A2'] == pytest.approx(expected * (1 - 6 / (3 * 27)), rel=0.02)
        # equal springs: equal MSD, up to the mass-weighted alignment removing more of the heavy atoms' motion
        assert result['Cd']['msd_A2'] == pytest.approx(result['Se']['msd_A2'], rel=0.1)
        values.append(result['all']['msd_A2'])
        errors.append(result['all']['sem_A2'])
    fit = msd_temperature_slope(temperatures, values, errors)
    expected_slope = 3 * KB_EV_K / K_SPRING * (1 - 6 / 81)
    assert abs(fit['slope_A2_per_K'] - expected_slope) < 4 * fit['slope_stderr_A2_per_K']
    assert fit['slope_stderr_A2_per_K'] < 0.02 * expected_slope and fit['max_relative_residual'] < 0.02


def test_rigid_body_motion_does_not_change_the_msd():
    frames, symbols = einstein_frames(300.0, n_frames=500)
    rotations = Rotation.random(len(frames), random_state=3).as_matrix()
    moved = np.einsum('tij,tnj->tni', rotations, frames) + np.random.default_rng(5).normal(0, 10.0, (500, 1, 3))
    np.testing.assert_allclose(msd_series(moved, symbols)['all'], msd_series(frames, symbols)['all'], rtol=1e-8)


def test_slope_input_errors():
    with pytest.raises(ValueError, match='2 distinct temperatures'):
        msd_temperature_slope([300.0, 300.0], [0.1, 0.1])
    with pytest.raises(ValueError, match='errors must be positive'):
        msd_temperature_slope([100.0, 300.0], [0.1, 0.2], [0.0, 0.1])
