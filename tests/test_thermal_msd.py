"""Thermal MSD against an Einstein solid (equipartition) and the invariance under rigid-body motion."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from aiida_qdots.analysis.thermal_msd import (
    ELECTRON_WEIGHTED,
    msd_by_element,
    msd_series,
    msd_temperature_slope,
    scattering_weights,
)
from aiida_qdots.common.units import KB_EV_K

K_SPRING = 2.0  # eV/A^2: Einstein solid, <|u|^2> = 3 kT / k for every atom whatever its mass


def einstein_frames(temperature, n_frames=4000, seed=0, side=3, springs=None):
    """Frames of a ``side``^3 Einstein solid of alternating Cd / Se with spring constants ``springs`` (eV/A^2)."""
    rng = np.random.default_rng(seed)
    lattice = np.array([[x, y, z] for x in range(side) for y in range(side) for z in range(side)], dtype=float) * 3.0
    symbols = (['Cd', 'Se'] * side**3)[: side**3]
    k = np.array([(springs or {}).get(s, K_SPRING) for s in symbols])
    sigma = np.sqrt(KB_EV_K * temperature / k)[:, None]  # per Cartesian component
    frames = lattice + rng.normal(0.0, 1.0, (n_frames, len(lattice), 3)) * sigma
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


def test_electron_weighted_slope_is_the_scattering_weighted_mean_of_the_elements():
    """Two elements with different springs: the weighted <u^2>(T) slope is sum_a w_a 3 k_B / k_a (equipartition),
    w_a = N_a f_a^2 / sum_b N_b f_b^2; the fit of the weighted means equals the weighted mean of the elements' fits."""
    springs = {'Cd': 1.0, 'Se': 3.0}
    weights = scattering_weights(['Cd'] * 63 + ['Se'] * 62, (1.5, 6.0), lambda e, q: [[2.0] * q.size, [1.0] * q.size])
    assert weights == pytest.approx({'Cd': 63 * 4 / (63 * 4 + 62), 'Se': 62 / (63 * 4 + 62)})
    temperatures, rows = [100.0, 200.0, 300.0, 400.0], []
    for k, temperature in enumerate(temperatures):
        frames, symbols = einstein_frames(temperature, n_frames=1500, seed=k, side=5, springs=springs)
        rows.append(msd_by_element(frames, symbols, element_weights=weights))
    fits = {name: msd_temperature_slope(temperatures, [row[name]['msd_A2'] for row in rows]) for name in rows[0]}
    assert fits[ELECTRON_WEIGHTED]['slope_A2_per_K'] == pytest.approx(
        sum(w * fits[e]['slope_A2_per_K'] for e, w in weights.items()), rel=1e-12
    )
    weighted = msd_temperature_slope(
        temperatures,
        [row[ELECTRON_WEIGHTED]['msd_A2'] for row in rows],
        [row[ELECTRON_WEIGHTED]['sem_A2'] for row in rows],
    )
    analytic = sum(w * 3 * KB_EV_K / springs[e] for e, w in weights.items())
    # alignment removes 6 of 375 degrees of freedom (1.6 %), unevenly between the elements
    assert weighted['slope_A2_per_K'] == pytest.approx(analytic, rel=0.03)
    assert fits['all']['slope_A2_per_K'] < 0.95 * weighted['slope_A2_per_K']  # the soft, strong scatterer counts more


def test_equal_scattering_factors_give_the_unweighted_slope():
    frames, symbols = einstein_frames(300.0, n_frames=200, springs={'Cd': 1.0, 'Se': 3.0})
    weights = scattering_weights(symbols, (1.0, 8.0), lambda e, q: np.ones((len(e), q.size)))
    series = msd_series(frames, symbols, element_weights=weights)
    np.testing.assert_allclose(series[ELECTRON_WEIGHTED], series['all'], rtol=1e-12)


def test_electron_scattering_weights_follow_the_form_factors():
    weights = scattering_weights(['Cd', 'Se', 'Se'], (1.5, 6.0))
    assert sum(weights.values()) == pytest.approx(1.0)
    assert 1 / 3 < weights['Cd'] < 0.5  # Cd scatters more than Se per atom, less than the two Se together
    with pytest.raises(ValueError, match='Q range'):
        scattering_weights(['Cd'], (6.0, 1.5))
    with pytest.raises(ValueError, match='no scattering weight for Se'):
        msd_series(*einstein_frames(300.0, n_frames=20), element_weights={'Cd': 1.0})


def test_analyze_msd_stores_both_weightings_and_names_the_main_one(aiida_profile):
    from aiida import orm

    from aiida_qdots.functions.phonons import analyze_msd

    trajectories, temperatures = {}, {}
    for k, temperature in enumerate((150.0, 300.0, 450.0)):
        frames, symbols = einstein_frames(temperature, n_frames=400, seed=k, springs={'Cd': 1.0, 'Se': 3.0})
        node = orm.TrajectoryData()
        node.set_trajectory(symbols=symbols, positions=frames, times=np.arange(len(frames)) * 4.0)
        trajectories[f'T_{k}'], temperatures[f'T_{k}'] = node.store(), temperature
    parameters = {'nve_start_fs': 0.0, 'temperatures': temperatures}
    weighted = analyze_msd(orm.Dict({**parameters, 'weighting_q_range': [1.5, 6.0]}), **trajectories)['msd_slope']
    plain = analyze_msd(orm.Dict(parameters), **trajectories)['msd_slope']
    assert weighted['weighting'] == 'electron_scattering' and plain['weighting'] == 'atoms'
    assert weighted['slope_A2_per_K'] == weighted['by_weighting']['electron_scattering']['slope_A2_per_K']
    assert weighted['by_weighting']['atoms'] == plain['by_weighting']['atoms']
    assert plain['slope_A2_per_K'] == plain['by_weighting']['atoms']['slope_A2_per_K']
    w = weighted['element_weights']
    assert w['Cd'] > 14 / 27 and w['Cd'] + w['Se'] == pytest.approx(1.0)  # Cd scatters more per atom than Se
    by_element = {e: weighted['by_element'][e]['slope_A2_per_K'] for e in ('Cd', 'Se')}
    assert weighted['slope_A2_per_K'] == pytest.approx(sum(w[e] * by_element[e] for e in w), rel=0.02)
    assert weighted['slope_A2_per_K'] > weighted['by_weighting']['atoms']['slope_A2_per_K']  # soft Cd counts more
    assert set(weighted['by_element']) == {'Cd', 'Se'} and weighted['weighting_q_range_inv_angstrom'] == [1.5, 6.0]
