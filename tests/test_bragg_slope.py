"""The Debye-Waller slope as the Bragg-peak route reads it, from frames at several temperatures: against the
generating slope (independent displacements of one <u^2>), against the same frames heated harmonically
(heterogeneous <u^2>), against the runs' measured temperatures, and its settings refused with one line."""

import numpy as np
import pytest

from aiida_qdots.analysis.bragg_slope import bragg_du2_slope
from aiida_qdots.analysis.thermal_msd import energy_temperatures, nve_energy
from aiida_qdots.common.units import KB_EV_K
from aiida_qdots.structures.nanocrystals import build_nanocrystal

TEMPERATURES = (150.0, 300.0, 450.0)
SLOPE = 1e-4  # A^2/K: <u^2> = SLOPE x T for a uniform particle
Q = np.arange(1.0, 8.005, 0.01)


@pytest.fixture(scope='module')
def particle():
    """The 504-atom wurtzite CdSe particle (3 nm) and its surface shell (the outer 3 A, about half the atoms)."""
    atoms = build_nanocrystal(30.0)
    radius = np.linalg.norm(atoms.positions - atoms.positions.mean(axis=0), axis=1)
    return atoms.positions, atoms.get_chemical_symbols(), radius > radius.max() - 3.0


def runs(positions, factors, n_frames, seed):
    """Frames at each of TEMPERATURES: independent Gaussian displacements of 3D <u^2>_i = factor_i x SLOPE x T."""
    rng = np.random.default_rng(seed)
    return [
        positions + rng.normal(0.0, 1.0, (n_frames, *positions.shape)) * np.sqrt(factors * SLOPE * t / 3)[:, None]
        for t in TEMPERATURES
    ]


def test_bragg_slope_of_independent_uniform_displacements_is_the_generating_slope(particle):
    """One <u^2> for every atom, growing as 1e-4 A^2/K, 40 frames per temperature: the peak route reads the <u^2>
    change itself (its du2 ratio is 1.01 on such frames), so the Bragg slope is the generating one, within its
    standard error (2 sigma) and within 3 %; the 300 K run is the reference."""
    positions, symbols, _ = particle
    result = bragg_du2_slope(runs(positions, np.ones(len(symbols)), 40, seed=1), TEMPERATURES, symbols, Q, (1.5, 8.0))
    slope, error = result['slope_A2_per_K'], result['slope_stderr_A2_per_K']
    assert abs(slope - SLOPE) < 2 * error and slope == pytest.approx(SLOPE, rel=0.03), (slope, error)
    assert 0 < error < 0.05 * SLOPE
    assert result['reference_K'] == 300.0 and result['du2_A2'][1] == pytest.approx(0.0, abs=1e-12)
    assert result['n_frames'] == [40, 40, 40] and result['n_blocks'] == 4 and result['n_peaks'] >= 8
    assert len(result['block_slopes_A2_per_K']) == 4


def test_bragg_slope_of_heterogeneous_displacements_matches_the_heated_frames(particle):
    """Surface atoms 5 x the core's <u^2>: the Bragg areas follow less than the mean <u^2> (the mobile atoms'
    scattering is already damped), so Bragg slope / mean slope < 1; and it equals the slope read between the 300 K
    frames and the same frames heated harmonically to 450 K (every displacement scaled by sqrt(450/300): one set of
    frames scaled instead of separate temperatures), within 3 combined standard errors. 120 frames per temperature
    (with 40 the seeds scatter by 0.014)."""
    positions, symbols, surface = particle
    factors = np.where(surface, 5.0, 1.0)
    frames = runs(positions, factors, 120, seed=2)
    result = bragg_du2_slope(frames, TEMPERATURES, symbols, Q, (1.5, 8.0))
    mean_slope = SLOPE * factors.mean()
    ratio, error = result['slope_A2_per_K'] / mean_slope, result['slope_stderr_A2_per_K'] / mean_slope
    heated = positions + (frames[1] - positions) * np.sqrt(450.0 / 300.0)
    scaled = bragg_du2_slope([frames[1], heated], [300.0, 450.0], symbols, Q, (1.5, 8.0))
    expected, expected_err = scaled['slope_A2_per_K'] / mean_slope, scaled['slope_stderr_A2_per_K'] / mean_slope
    assert ratio < 0.85 and ratio + 3 * error < 1, (ratio, error)
    assert abs(ratio - expected) < 3 * np.hypot(error, expected_err), (ratio, error, expected, expected_err)


def _thermo_node(temperature_k, n_atoms, seed):
    """A qdots.lammps MD thermo output whose NVE phase is at ``temperature_k``: total energy 3 N k_B T above an
    arbitrary zero (a harmonic solid), kinetic temperature fluctuating by 7 % about T."""
    from aiida import orm

    rng = np.random.default_rng(seed)
    node = orm.ArrayData()
    node.set_array('block', np.repeat([0, 1], [50, 400]))
    node.set_array('Temp', temperature_k * (1 + 0.07 * rng.normal(size=450)))
    node.set_array('TotEng', np.full(450, -500.0 + 3 * n_atoms * KB_EV_K * temperature_k))
    node.base.attributes.set('blocks', [{'kind': 'run', 'phase': 'nvt'}, {'kind': 'run', 'phase': 'nve'}])
    return node.store()


def test_nve_energy_and_energy_temperatures():
    """Standard error of the kinetic temperature (white and AR(1) noise against the analytic values), the
    conserved energy, and the energy scale: 3 N k_B per K."""
    rng = np.random.default_rng(0)
    temperature = 300 + 20 * rng.normal(size=4000)
    result = nve_energy(np.full(4000, -10.0), temperature)
    assert result['kinetic_temperature_k'] == pytest.approx(300, abs=4 * 20 / np.sqrt(4000))
    assert result['kinetic_temperature_sem_k'] == pytest.approx(20 / np.sqrt(4000), rel=0.25)
    # AR(1) with phi = 0.9: the standard error of the mean is sigma / sqrt(n) * sqrt((1 + phi) / (1 - phi))
    phi, n = 0.9, 20000
    noise = rng.normal(size=n) * 20 * np.sqrt(1 - phi**2)
    series = np.empty(n)
    series[0] = 0.0
    for i in range(1, n):
        series[i] = phi * series[i - 1] + noise[i]
    correlated = nve_energy(np.full(n, -10.0), 300 + series)
    assert correlated['kinetic_temperature_sem_k'] == pytest.approx(20 / np.sqrt(n) * np.sqrt(19), rel=0.3)
    assert result['energy_drift_ev'] == 0.0 and result['n_rows'] == 4000
    energies = -10.0 + 3 * 136 * KB_EV_K * np.array([0.0, 25.0, -10.0])
    assert energy_temperatures(energies, 136, 0, 296.0).tolist() == pytest.approx([296.0, 321.0, 286.0])
    with pytest.raises(ValueError, match='thermo rows'):
        nve_energy([1.0] * 5, [300.0] * 5)


def test_bragg_slope_reads_the_runs_measured_temperatures(aiida_profile, particle):
    """Runs nominally at 150, 300, 450 K whose NVE phases are at 170, 300, 430 K (a small particle keeps the energy
    its thermostat left): with their thermo, analyze_msd reads the Bragg slope against the measured temperatures and
    finds the generating slope; against the nominal ones it is 130/150 of it."""
    from aiida import orm

    from aiida_qdots.functions.phonons import analyze_msd

    positions, symbols, _ = particle
    actual = (170.0, 300.0, 430.0)
    rng = np.random.default_rng(6)
    inputs = {}
    for k, t in enumerate(actual):
        frames = positions + rng.normal(0.0, np.sqrt(SLOPE * t / 3), (40, *positions.shape))
        node = orm.TrajectoryData()
        node.set_trajectory(symbols=symbols, positions=frames, times=np.arange(40) * 40.0)
        inputs[f'T_{k}'] = node.store()
        inputs[f'thermo_T_{k}'] = _thermo_node(t, len(symbols), seed=k)
    parameters = {'nve_start_fs': 0.0, 'temperatures': {f'T_{k}': t for k, t in enumerate(TEMPERATURES)}}
    parameters['bragg'] = {'max_frames': 40}
    measured = analyze_msd(orm.Dict(parameters), **inputs)['msd_slope']['bragg_peaks']
    nominal = analyze_msd(orm.Dict(parameters), **{k: v for k, v in inputs.items() if not k.startswith('thermo_')})[
        'msd_slope'
    ]['bragg_peaks']
    assert measured['temperature_scale'].startswith('energy') and nominal['temperature_scale'] == 'nominal'
    assert measured['temperatures_K'][1] == pytest.approx(300.0, abs=3.0)  # the reference: its kinetic temperature
    assert np.diff(measured['temperatures_K']).tolist() == pytest.approx([130.0, 130.0])  # energy differences
    slope, error = measured['slope_A2_per_K'], measured['slope_stderr_A2_per_K']
    assert abs(slope - SLOPE) < 2.5 * error and slope == pytest.approx(SLOPE, rel=0.04), (slope, error)
    assert nominal['slope_A2_per_K'] / slope == pytest.approx(130.0 / 150.0, rel=0.02)


def test_bragg_slope_refuses_too_few_frames_or_temperatures(particle):
    positions, symbols, _ = particle
    frames = runs(positions, np.ones(len(symbols)), 6, seed=3)
    with pytest.raises(ValueError, match='no 4 blocks'):
        bragg_du2_slope(frames, TEMPERATURES, symbols, Q, (1.5, 8.0))
    with pytest.raises(ValueError, match='>= 2 distinct temperatures'):
        bragg_du2_slope(frames[:1], TEMPERATURES[:1], symbols, Q, (1.5, 8.0))


@pytest.mark.parametrize(
    ('bragg', 'message'),
    [
        ({'q_rang': [1.5, 8.0]}, 'unknown bragg setting(s) q_rang'),
        ({'q_range': [1.5, 9.0]}, 'bragg needs 0 < pattern_q_range[0] <= q_min < q_max <= pattern_q_range[1]'),
        ({'n_blocks': 2}, 'bragg needs integers n_blocks >= 4'),
        ({'max_frames': 5}, 'max_frames >= 2 n_blocks'),
        ({'q_range': 'all'}, 'bragg q ranges must be [min, max]'),
        ([1.5, 8.0], 'msd.bragg must be a dict'),
    ],
)
def test_phonons_refuses_bad_bragg_settings_with_one_line(aiida_profile, bragg, message):
    from aiida import orm

    from aiida_qdots.workchains.phonons import PhononsWorkChain, validate_parameters

    inputs = PhononsWorkChain.get_protocol_inputs('fast', {'msd': {'bragg': bragg}})
    if isinstance(bragg, dict):  # overrides merge into the protocol's bragg dict
        inputs['msd']['bragg'] = {**inputs['msd']['bragg'], **bragg}
    error = validate_parameters(orm.Dict(inputs))
    assert error is not None and message in error and '\n' not in error, error
    assert validate_parameters(orm.Dict(PhononsWorkChain.get_protocol_inputs('fast', {'msd': {'bragg': None}}))) is None


def test_analyze_msd_stores_the_bragg_slope_beside_the_main_one(aiida_profile, particle):
    """analyze_msd with msd.bragg: by_weighting['bragg_peaks'] and its details; the main slope stays the
    electron-scattering one; without bragg, none."""
    from aiida import orm

    from aiida_qdots.functions.phonons import analyze_msd

    positions, symbols, _ = particle
    trajectories = {}
    for k, frames in enumerate(runs(positions, np.ones(len(symbols)), 32, seed=4)):
        node = orm.TrajectoryData()
        node.set_trajectory(symbols=symbols, positions=frames, times=np.arange(len(frames)) * 40.0)
        trajectories[f'T_{k}'] = node.store()
    parameters = {
        'nve_start_fs': 0.0,
        'temperatures': {f'T_{k}': t for k, t in enumerate(TEMPERATURES)},
        'weighting_q_range': [1.5, 6.0],
    }
    slope = analyze_msd(orm.Dict({**parameters, 'bragg': {'max_frames': 16}}), **trajectories)['msd_slope']
    bragg = slope['bragg_peaks']
    assert slope['weighting'] == 'electron_scattering'
    assert slope['by_weighting']['bragg_peaks'] == {k: bragg[k] for k in ('slope_A2_per_K', 'slope_stderr_A2_per_K')}
    assert bragg['n_frames'] == [16, 16, 16] and bragg['settings']['q_range'] == [1.5, 8.0]
    assert bragg['ratio_to_main'] == pytest.approx(bragg['slope_A2_per_K'] / slope['slope_A2_per_K'])
    assert bragg['slope_A2_per_K'] == pytest.approx(SLOPE, rel=0.1)  # uniform displacements: the <u^2> slope
    plain = analyze_msd(orm.Dict(parameters), **trajectories)['msd_slope']
    assert 'bragg_peaks' not in plain.keys() and 'bragg_peaks' not in plain['by_weighting']


def test_ued_divides_by_the_named_slope_or_falls_back_to_the_main_one(aiida_profile):
    """used_slope: the by_weighting entry named, else the main slope (a user value has no by_weighting); a
    slope_weighting that is no name is refused with one line before anything runs."""
    from aiida import orm

    from aiida_qdots.functions.ued import used_slope, validate_parameters
    from aiida_qdots.workchains.ued import UedWorkChain

    main = {'slope_A2_per_K': 1.4e-4, 'slope_stderr_A2_per_K': 1e-5, 'weighting': 'electron_scattering'}
    bragg = {'slope_A2_per_K': 1.0e-4, 'slope_stderr_A2_per_K': 2e-5}
    phonons = {**main, 'by_weighting': {'electron_scattering': main, 'bragg_peaks': bragg}}
    assert used_slope(phonons, 'bragg_peaks') == (bragg, 'bragg_peaks')
    assert used_slope(main, 'bragg_peaks') == ({k: main[k] for k in bragg}, 'electron_scattering')
    assert used_slope({k: main[k] for k in bragg}, 'bragg_peaks')[1] == 'as given'
    error = validate_parameters(orm.Dict({'alpha': 0.01, 'slope_weighting': 3}))
    assert error.startswith('slope_weighting must name an msd_slope weighting') and '\n' not in error
    assert validate_parameters(orm.Dict(UedWorkChain.get_protocol_inputs('fast')['parameters'])) is None
    assert UedWorkChain.spec().inputs['parameters'].validator is validate_parameters
