"""Raman spectrum vs AIMD power spectrum: peak finder, pairing, the AIMD resolution, the calcfunction, the figure."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import workfunction
from click.testing import CliRunner
from profile_state import node_count
from test_cli import assert_one_error
from test_spectra import oscillators

from aiida_qdots.analysis.peaks import compare_spectra, find_peaks, pair_peaks
from aiida_qdots.analysis.spectra import line_fwhm_cm1, main_peak, power_spectrum
from aiida_qdots.analysis.vibrations import broadened_spectrum, dominant_modes
from aiida_qdots.cli import cli
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.units import SPEED_OF_LIGHT_CM_FS
from aiida_qdots.functions.trajectory import trajectory_spectra
from aiida_qdots.functions.vibrations import compare_raman_aimd, comparison_inputs

# ------------------------------------------------------------------------------------------- kernels


def test_peaks_of_a_sum_of_gaussians_are_their_centres():
    grid = np.arange(0.0, 600.0, 0.5)
    centres, widths, heights = [123.3, 180.7, 251.1, 402.9, 550.0], [2, 4, 6, 3, 3], [1.0, 0.3, 2.0, 0.5, 1.0]
    spectrum = sum(h * np.exp(-0.5 * ((grid - c) / w) ** 2) for c, w, h in zip(centres, widths, heights, strict=True))
    spectrum += 0.04 * np.exp(-0.5 * ((grid - 320.0) / 2) ** 2)  # below 5 % of the maximum in the window: no peak
    peaks = find_peaks(grid, spectrum, (100.0, 500.0), min_prominence=0.05)
    assert peaks.positions == pytest.approx(centres[:4], abs=2e-3)  # 550 lies outside the window
    assert peaks.heights == pytest.approx(heights[:4], rel=1e-2)  # the highest sample, not the vertex
    with pytest.raises(ValueError, match='empty'):
        find_peaks(grid, spectrum, (300.0, 200.0))


def test_harmonic_oscillators_give_power_spectrum_peaks_at_their_frequencies():
    """Atoms oscillating at 150, 210 and 290 cm^-1 (two each): exactly three peaks, within a tenth of the resolution."""
    expected = [150.0, 210.0, 290.0]
    _, velocities = oscillators(expected * 2, n_frames=4096)
    spectrum = power_spectrum(velocities, ['Se'] * 6, 1.0, remove_com=False)
    resolution = line_fwhm_cm1(4096, 4096, 1.0)
    peaks = find_peaks(spectrum.frequency_cm1, spectrum.total, (resolution, 400.0))
    assert peaks.positions == pytest.approx(expected, abs=0.1 * resolution)


def test_line_width_of_the_estimator():
    """Without a lag window the biased estimator's spectrum of a pure line is the Fejer kernel, sinc^2: FWHM
    0.88589 / T exactly. With the Hann window two equal lines 1.5 FWHM apart are separated, one FWHM apart not (the
    limit lies between 1.0 and 1.2 FWHM)."""
    n = 4096
    assert line_fwhm_cm1(n, n, 1.0, 'none') == pytest.approx(0.88589 / (SPEED_OF_LIGHT_CM_FS * n), rel=2e-3)
    for lags in (n, 1001):
        fwhm = line_fwhm_cm1(n, lags, 1.0)
        assert 1.0 < fwhm * SPEED_OF_LIGHT_CM_FS * (lags - 1) < 1.3
        for factor, count in ((1.5, 2), (1.0, 1), (0.5, 1)):
            _, velocities = oscillators([200.0, 200.0 + factor * fwhm], n_frames=n, seed=1)
            spectrum = power_spectrum(velocities, ['Se'] * 2, 1.0, remove_com=False, max_lag_fs=lags - 1.0)
            assert len(find_peaks(spectrum.frequency_cm1, spectrum.total, (fwhm, 400.0)).positions) == count


def test_pairing_on_a_known_case():
    pairs, alone_a, alone_b = pair_peaks([100.0, 104.0, 150.0, 200.0], [103.0, 149.0, 260.0], 5.0)
    assert pairs == [(1, 0), (2, 1)]  # 104-103 is closer than 100-103: 100 stays alone
    assert alone_a == [0, 3] and alone_b == [2]
    assert pair_peaks([], [1.0], 5.0) == ([], [], [0])


@pytest.mark.parametrize('seed', range(20))
def test_pairing_is_symmetric_complete_and_maximal(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, 300, rng.integers(0, 15)), rng.uniform(0, 300, rng.integers(0, 15))
    tolerance = rng.uniform(0, 30)
    pairs, alone_a, alone_b = pair_peaks(a, b, tolerance)
    swapped, alone_b2, alone_a2 = pair_peaks(b, a, tolerance)
    assert sorted((i, j) for j, i in swapped) == pairs and alone_a2 == alone_a and alone_b2 == alone_b
    assert sorted([i for i, _ in pairs] + alone_a) == list(range(a.size))
    assert sorted([j for _, j in pairs] + alone_b) == list(range(b.size))
    assert all(abs(a[i] - b[j]) <= tolerance for i, j in pairs)
    assert all(abs(a[i] - b[j]) > tolerance for i in alone_a for j in alone_b)


def test_compare_spectra_and_dominant_mode():
    grid = np.arange(0.0, 400.0, 0.5)
    sticks, activities = np.array([100.0, 103.0, 200.0, 300.0]), np.array([1.0, 5.0, 2.0, 1.0])
    raman = broadened_spectrum(sticks, activities, grid)
    aimd = broadened_spectrum([105.0, 210.0, 350.0], [1.0, 1.0, 1.0], grid, 10.0)
    table = compare_spectra((grid, raman), (grid, aimd), (50.0, 390.0), 12.0, 6.0, names=('raman', 'aimd'))
    assert [round(row['raman_cm1']) for row in table['pairs']] == [103, 200]
    assert [row['resolved'] for row in table['pairs']] == [False, True]  # 2 and 10 cm^-1 against 6 cm^-1
    assert [round(row['raman_cm1']) for row in table['unpaired_raman']] == [300]
    assert [round(row['aimd_cm1']) for row in table['unpaired_aimd']] == [350]
    assert max(row['raman_height'] for row in table['pairs']) == pytest.approx(1.0)
    assert dominant_modes([table['pairs'][0]['raman_cm1'], 299.0], sticks, activities).tolist() == [1, 3]


# ------------------------------------------------------------------------------------------- with AiiDA

FREQUENCIES = [150.0, 210.0, 290.0]
SYMBOLS = ['Cd', 'Se', 'Cl']


def vibrations_nodes(symbols, sticks, activities, hwhm=4.0):
    """``spectrum`` and ``modes`` nodes shaped as qdots.vibrations stores them, from stick wavenumbers and
    Raman activities (no CP2K)."""
    grid = np.arange(0.0, 4000.0, 0.5)
    spectrum = orm.ArrayData()
    spectrum.set_array('wavenumbers', grid)
    spectrum.set_array('raman', broadened_spectrum(sticks, activities, grid, hwhm))
    spectrum.base.attributes.set('hwhm_cm1', hwhm)
    modes = orm.ArrayData()
    modes.set_array('wavenumbers', np.asarray(sticks, dtype=float))
    modes.set_array('raman_activities', np.asarray(activities, dtype=float))
    modes.set_array('core_fraction', np.ones(len(sticks)))
    modes.base.attributes.set_many({'symbols': list(symbols), 'assignments': ['core'] * len(sticks), 'formula': 'x'})
    return spectrum.store(), modes.store()


@workfunction
def stand_in_vibrations(spectrum: orm.ArrayData, modes: orm.ArrayData) -> dict:
    """Returns the nodes as a qdots.vibrations workchain's outputs, for the figure's node resolution."""
    return {'spectrum': spectrum, 'modes': modes}


@pytest.fixture
def oscillator_spectra(aiida_profile):
    """qdots.aimd_analysis power spectra of three atoms oscillating at 150, 210 and 290 cm^-1 (4096 frames, 1 fs)."""
    positions, _ = oscillators(FREQUENCIES, n_frames=4096)
    trajectory = orm.TrajectoryData()
    trajectory.set_trajectory(symbols=SYMBOLS, positions=positions)
    trajectory.base.attributes.set('timestep_fs', 1.0)
    return trajectory_spectra(trajectory.store(), orm.Dict({'remove_com_velocity': False}))


def test_calcfunction_pairs_synthetic_raman_and_aimd_peaks(oscillator_spectra):
    """Raman sticks at 151, 209 and 260 cm^-1 against oscillators at 150, 210, 290: two pairs, shifts of 1 cm^-1 not
    resolved (the AIMD resolution is 1.25 / (4095 fs c) = 10.2 cm^-1), 260 and 290 unpaired; full provenance."""
    spectrum, modes = vibrations_nodes(SYMBOLS, [60.0, 151.0, 209.0, 260.0], [0.5, 1.0, 3.0, 2.0])
    table = compare_raman_aimd(spectrum, modes, oscillator_spectra, orm.Dict({'window_cm1': [100.0, 400.0]}))
    resolution = line_fwhm_cm1(4096, 4096, 1.0)
    assert table['aimd_resolution_cm1'] == pytest.approx(resolution)
    assert table['parameters']['tolerance_cm1'] == pytest.approx(resolution)  # > the Raman FWHM of 8 cm^-1
    assert [(round(r['raman_cm1']), round(r['aimd_cm1'])) for r in table['pairs']] == [(151, 150), (209, 210)]
    assert [r['difference_cm1'] for r in table['pairs']] == pytest.approx([-1.0, 1.0], abs=0.1 * resolution)
    assert not any(r['resolved'] for r in table['pairs']) and table['n_resolved'] == 0
    assert [r['mode'] for r in table['pairs']] == [1, 2]
    assert [round(r['raman_cm1']) for r in table['unpaired_raman']] == [260]
    assert [round(r['aimd_cm1']) for r in table['unpaired_aimd']] == [290]
    inputs = {link.link_label: link.node.uuid for link in table.creator.base.links.get_incoming().all()}
    assert inputs['spectrum'] == spectrum.uuid and inputs['modes'] == modes.uuid
    assert inputs['spectra'] == oscillator_spectra.uuid


def test_bad_comparison_input_is_one_clear_error(oscillator_spectra):
    spectrum, modes = vibrations_nodes(['C', 'H', 'H', 'H', 'H'], [1500.0], [1.0])
    with pytest.raises(QdotsInputError, match='vibrations are of C1H4, the AIMD spectra of Cd1Se1Cl1: not one cluster'):
        comparison_inputs(spectrum, modes, oscillator_spectra)
    spectrum, modes = vibrations_nodes(SYMBOLS, [151.0], [1.0])
    for values, message in (
        ({'window_cm1': [300.0, 100.0]}, 'must be increasing'),
        ({'tolerance': 3}, 'unknown comparison parameter'),
        ({'aimd_spectrum': 'Zn'}, 'aimd_spectrum must be one of'),
        ({'min_prominence': 0}, 'min_prominence must lie in'),
    ):
        with pytest.raises(QdotsInputError, match=message):
            comparison_inputs(spectrum, modes, oscillator_spectra, values)


def test_figure_command_draws_and_prints_the_pairs(oscillator_spectra, tmp_path):
    spectrum, modes = vibrations_nodes(SYMBOLS, [151.0, 209.0, 260.0], [1.0, 3.0, 2.0])
    _, vibrations = stand_in_vibrations.run_get_node(spectrum, modes)
    output = tmp_path / 'raman_vs_aimd.png'
    args = ['plot', 'raman-vs-aimd', str(vibrations.pk), str(oscillator_spectra.uuid), '-o', str(output)]
    result = CliRunner().invoke(cli, [*args, '--max-wavenumber', '400'])
    assert result.exit_code == 0, result.output
    assert output.stat().st_size > 10_000
    rows = [line.split() for line in result.output.splitlines() if line.endswith('(not resolved)')]
    assert [row[0] for row in rows] == ['151.0', '209.0'] and [round(float(row[1])) for row in rows] == [150, 210]
    assert 'unpaired Raman: 260.0; AIMD: 289.9' in result.output  # 0.1 cm^-1: 1 % of the resolution
    mismatch = vibrations_nodes(['C', 'H', 'H', 'H', 'H'], [1500.0], [1.0])
    result = CliRunner().invoke(cli, ['plot', 'raman-vs-aimd', str(mismatch[1].pk), str(oscillator_spectra.pk)])
    assert_one_error(result, 1, 'is not a qdots.vibrations workchain or its output')
    _, wrong = stand_in_vibrations.run_get_node(*mismatch)
    before = node_count()
    result = CliRunner().invoke(cli, ['plot', 'raman-vs-aimd', str(wrong.pk), str(oscillator_spectra.pk)])
    assert_one_error(result, 1, 'not one cluster')
    assert node_count() == before


def test_real_aimd_spectra_peaks(import_real_frames):
    """The Cd28Se17Cl22 AIMD data (first 3000 frames): the highest peak the finder reports is the main peak of the
    aimd_analysis summary (an independent search), and Raman sticks put 3 cm^-1 above two of the AIMD peaks pair
    with them, unresolved, while the others stay unpaired."""
    spectra = trajectory_spectra(import_real_frames(3000), orm.Dict({}))
    frequency, total = spectra.get_array('frequency_cm1'), spectra.get_array('total')
    resolution = line_fwhm_cm1(3000, 3000, 1.0)
    peaks = find_peaks(frequency, total, (resolution, 400.0))
    assert peaks.positions[np.argmax(peaks.heights)] == pytest.approx(main_peak(frequency, total, resolution))
    symbols = ['Cd'] * 28 + ['Se'] * 17 + ['Cl'] * 22
    spectrum, modes = vibrations_nodes(symbols, peaks.positions[:2] + 3.0, [1.0, 1.0])
    table = compare_raman_aimd(spectrum, modes, spectra, orm.Dict({'window_cm1': [None, 400.0]}))
    assert table['n_pairs'] == 2 and table['n_resolved'] == 0
    assert [r['difference_cm1'] for r in table['pairs']] == pytest.approx([-3.0, -3.0], abs=0.2)
    assert [r['aimd_cm1'] for r in table['unpaired_aimd']] == pytest.approx(peaks.positions[2:])
    print('Cd28Se17Cl22, 3000 frames: AIMD peaks (cm^-1)', np.round(peaks.positions, 1), 'resolution', resolution)
