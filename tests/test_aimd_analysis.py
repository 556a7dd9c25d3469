"""qdots.aimd_analysis: calcfunctions, workchain, `aiida-qdots analyze trajectory` and `plot rmsf/spectra`."""

import json

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aimd_reference import EXTXYZ, LAST_FRAMES, parsed_trajectory
from click.testing import CliRunner
from test_fluctuations import SYMBOLS, fluctuating
from test_spectra import velocity_verlet_diatomic

from aiida_qdots.analysis.fluctuations import atomic_masses
from aiida_qdots.analysis.fluctuations import rmsf as rmsf_kernel
from aiida_qdots.analysis.spectra import AMU_A2_FS2_EV, central_difference_velocities, power_spectrum
from aiida_qdots.cli import cli
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.units import SPEED_OF_LIGHT_CM_FS
from aiida_qdots.functions.trajectory import (
    ANALYSIS_DEFAULTS,
    analysis_parameters,
    analysis_window,
    trajectory_rmsf,
    trajectory_spectra,
)
from aiida_qdots.plots.aimd import analysis_nodes, plot_rmsf
from aiida_qdots.structures.importers import import_trajectory
from aiida_qdots.workchains.aimd_analysis import AimdAnalysisWorkChain

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def stored_trajectory(positions, symbols, times=None, velocities=None, cells=None, pbc=None, **attributes):
    node = orm.TrajectoryData()
    node.set_trajectory(
        symbols=list(symbols), positions=positions, times=times, velocities=velocities, cells=cells, pbc=pbc
    )
    node.base.attributes.set_many(attributes)
    return node.store()


@pytest.fixture(scope='module')
def real_trajectory(aiida_profile, shared_data_dir):
    """The 15 000-frame Cd28Se17Cl22 trajectory imported as a foreign trajectory (1 fs per frame)."""
    return import_trajectory(shared_data_dir / EXTXYZ, 1.0, label='cd28se17cl22 aimd')


@pytest.fixture(scope='module')
def real_analysis(real_trajectory):
    """qdots.aimd_analysis on the last 10 000 frames of the imported trajectory."""
    results, node = run_get_node(
        AimdAnalysisWorkChain, trajectory=real_trajectory, parameters=orm.Dict({'last_frames': LAST_FRAMES})
    )
    return results, node


# ------------------------------------------------------------------------------------------- parameters


def test_parameters_and_window():
    params = analysis_parameters({'last_frames': 100})
    assert params == {**ANALYSIS_DEFAULTS, 'last_frames': 100}
    assert params['acoustic_cutoff_cm1'] == 120.0
    assert analysis_window(1000, params) == (900, 1000)
    assert analysis_window(1000, analysis_parameters({'start_frame': 100, 'stop_frame': -100})) == (100, 900)
    assert analysis_window(1000, analysis_parameters({})) == (0, 1000)
    for bad, message in [
        ({'last_frames': 10}, 'at least 16 frames'),
        ({'last_frames': 100, 'start_frame': 0}, 'not both'),
        ({'acoustic_cutoff_cm1': -5}, 'acoustic_cutoff_cm1 must be > 0'),
        ({'acoustic_cutoff_cm1': 'high'}, 'acoustic_cutoff_cm1 must be a finite number'),
        ({'spectrum_window': 'gauss'}, 'spectrum_window must be one of'),
        ({'velocities': 'forces'}, 'velocities must be one of'),
        ({'last_frames': 100.5}, 'last_frames must be an integer'),
        ({'lastframes': 100}, 'unknown analysis parameter'),
    ]:
        with pytest.raises(QdotsInputError, match=message):
            analysis_parameters(bad)
    with pytest.raises(QdotsInputError, match='longer than the trajectory'):
        analysis_window(50, analysis_parameters({'last_frames': 100}))
    with pytest.raises(QdotsInputError, match='has 10 frames; at least 16'):
        analysis_window(1000, analysis_parameters({'start_frame': 990}))


# --------------------------------------------------------------------------------------- the real data


def test_workchain_on_imported_real_trajectory(real_trajectory, real_analysis, shared_data_dir):
    results, node = real_analysis
    assert node.is_finished_ok, node.exit_message
    assert set(results) == {'rmsf', 'spectra', 'summary'}
    summary = results['summary'].get_dict()
    rmsf_values = summary['rmsf_by_element']
    assert rmsf_values['Cl'] > rmsf_values['Cd'] > rmsf_values['Se']
    # the same numbers as the pure kernels on the same window
    parsed = parsed_trajectory(shared_data_dir)
    kernel = rmsf_kernel(parsed.positions[-LAST_FRAMES:], parsed.symbols)
    assert rmsf_values == pytest.approx(kernel.rmsf_by_element, rel=1e-10)
    np.testing.assert_allclose(results['rmsf'].get_array('rmsf'), kernel.rmsf, rtol=1e-10)
    velocities = central_difference_velocities(parsed.positions[-LAST_FRAMES - 1 :], 1.0)[1:]
    spectrum = power_spectrum(velocities, parsed.symbols, 1.0)
    np.testing.assert_allclose(results['spectra'].get_array('total'), spectrum.total, rtol=1e-9, atol=1e-15)
    assert summary['spectrum_peak_cm1'] == pytest.approx(45.5, abs=1.0)
    assert summary['acoustic_fraction'] == pytest.approx(0.553, abs=2e-3)
    assert summary['acoustic_fraction'] + summary['optical_fraction'] == pytest.approx(1.0)
    assert summary['kinetic_temperature_k'] == pytest.approx(300.0, abs=5.0)
    assert summary['window'] == {
        'start_frame': 5000,
        'stop_frame': 15000,
        'n_frames': 10000,
        'timestep_fs': 1.0,
        'start_time_fs': 5000.0,
        'duration_fs': 9999.0,
    }
    assert summary['acoustic_cutoff_cm1'] == 120.0 and summary['velocity_source'] == 'central differences of positions'
    assert summary['units']['rmsf_by_element'] == 'angstrom' and summary['units']['spectrum_peak_cm1'] == 'cm^-1'
    assert 'normalisation' in summary['conventions'] and 'alignment' in summary['conventions']
    # the 10 ps window of 1 fs frames: RMSF and spectra converged (resolution ~0.8 cm^-1, 150 bins below 120 cm^-1)
    assert summary['n_frames'] == LAST_FRAMES and summary['convergence']['rmsf']['converged']
    assert summary['convergence']['spectra']['converged'], summary['convergence']['spectra']['reason']
    print(
        'workchain summary:',
        {
            k: summary[k]
            for k in (
                'rmsf_by_element',
                'spectrum_peak_cm1',
                'acoustic_fraction',
                'optical_fraction',
                'kinetic_temperature_k',
            )
        },
    )


def test_output_nodes_arrays_and_attributes(real_analysis):
    results, _ = real_analysis
    rmsf, spectra = results['rmsf'], results['spectra']
    assert set(rmsf.get_arraynames()) == {
        'rmsf',
        'symbols',
        'masses',
        'mean_structure',
        'elements',
        'rmsf_by_element',
        'rmsf_by_element_std',
        'msd_by_element',
    }
    assert rmsf.get_array('rmsf').shape == (67,) and rmsf.get_array('mean_structure').shape == (67, 3)
    assert rmsf.get_array('msd_by_element').shape == (LAST_FRAMES, 3)
    assert rmsf.get_array('elements').tolist() == ['Cd', 'Se', 'Cl']
    attributes = rmsf.base.attributes.all
    assert attributes['units']['rmsf'] == 'angstrom' and attributes['units']['masses'] == 'amu'
    assert attributes['kabsch_converged'] and attributes['residual_rotation_deg'] < 1e-3
    assert attributes['mass_weighted_fit'] and attributes['window']['n_frames'] == LAST_FRAMES
    assert set(attributes['convergence_by_element']) == {'Cd', 'Se', 'Cl'}
    assert attributes['convergence']['n_samples'] == LAST_FRAMES
    assert attributes['convergence']['converged'] == all(
        v['converged'] for v in attributes['convergence_by_element'].values()
    )
    assert set(spectra.get_arraynames()) == {
        'frequency_cm1',
        'total',
        'Cd',
        'Se',
        'Cl',
        'lag_fs',
        'vacf_total',
        'vacf_Cd',
        'vacf_Se',
        'vacf_Cl',
    }
    frequency, total = spectra.get_array('frequency_cm1'), spectra.get_array('total')
    attributes = spectra.base.attributes.all
    assert attributes['units']['total'] == 'eV/cm^-1' and attributes['units']['frequency_cm1'] == 'cm^-1'
    assert attributes['units']['vacf_total'] == 'eV' and attributes['estimator'] == 'biased'
    assert attributes['lag_window'] == 'hann' and attributes['max_lag_fs'] == LAST_FRAMES - 1
    # Parseval on the stored arrays: sum(S) d_nu = C(0) = 2 <E_kin>
    assert np.sum(total) * frequency[1] == pytest.approx(spectra.get_array('vacf_total')[0], rel=1e-10)
    assert attributes['integral_total_ev'] == pytest.approx(spectra.get_array('vacf_total')[0], rel=1e-10)
    np.testing.assert_allclose(
        spectra.get_array('Cd') + spectra.get_array('Se') + spectra.get_array('Cl'), total, rtol=1e-12, atol=1e-15
    )


def test_provenance_of_the_analysis(real_trajectory, real_analysis):
    results, node = real_analysis
    assert node.process_label == 'AimdAnalysisWorkChain'
    assert node.inputs.trajectory.uuid == real_trajectory.uuid
    called = {
        link.link_label: link.node.process_label
        for link in node.base.links.get_outgoing().all()
        if link.link_type.value == 'call_calc'
    }
    assert called == {'rmsf': 'trajectory_rmsf', 'spectra': 'trajectory_spectra', 'summary': 'analysis_summary'}
    for name, label in (('rmsf', 'trajectory_rmsf'), ('spectra', 'trajectory_spectra')):
        creator = results[name].creator
        assert isinstance(creator, orm.CalcFunctionNode) and creator.process_label == label
        assert creator.caller.uuid == node.uuid
        inputs = {link.link_label: link.node for link in creator.base.links.get_incoming().all()}
        assert inputs['trajectory'].uuid == real_trajectory.uuid
        assert inputs['parameters'].get_dict() == {'last_frames': LAST_FRAMES}
    creator = results['summary'].creator
    inputs = {link.link_label: link.node for link in creator.base.links.get_incoming().all()}
    assert inputs['rmsf'].uuid == results['rmsf'].uuid and inputs['spectra'].uuid == results['spectra'].uuid
    # the workchain returns exactly its calcfunctions' outputs
    returned = {
        link.link_label: link.node.uuid
        for link in node.base.links.get_outgoing().all()
        if link.link_type.value == 'return'
    }
    assert returned == {name: results[name].uuid for name in ('rmsf', 'spectra', 'summary')}
    # the trajectory leads to the summary through the graph
    assert real_trajectory.uuid in {n.uuid for n in results['rmsf'].creator.base.links.get_incoming().all_nodes()}
    assert analysis_nodes(results['summary'])['spectra'].uuid == results['spectra'].uuid


# ---------------------------------------------------------------------------------- other trajectories


@pytest.mark.parametrize('flavour', ['lammps', 'cp2k'])
def test_md_trajectories_with_velocities(flavour):
    """The conventions of qdots.lammps (velocities A/fs, times fs, no timestep_fs attribute) and of the CP2K AIMD
    trajectory (plus a timestep_fs attribute, a fixed box as cells, which makes aiida-core default to pbc=True,
    and energy arrays), frames 2 fs apart: a Cd-Se diatomic on a 5 eV/A^2 spring comes out at its analytic
    171.2 cm^-1.
    """
    masses = atomic_masses(['Cd', 'Se'])
    positions, velocities = velocity_verlet_diatomic(5.0, masses, n_frames=2000, dt_store=2.0, substeps=4)
    times = np.arange(2000) * 2.0
    units = {'positions': 'angstrom', 'velocities': 'angstrom/fs', 'times': 'fs'}
    if flavour == 'lammps':
        node = stored_trajectory(positions + 10.0, ['Cd', 'Se'], times=times, velocities=velocities, units=units)
    else:
        node = orm.TrajectoryData()
        node.set_trajectory(
            symbols=['Cd', 'Se'],
            positions=positions + 10.0,
            times=times,
            velocities=velocities,
            cells=np.repeat(np.diag([20.0, 20.0, 20.0])[None], 2000, axis=0),
            pbc=(True, True, True),
        )
        node.set_array('kinetic_energy', 0.5 * np.einsum('n,tni->t', masses, velocities**2) * AMU_A2_FS2_EV)
        node.base.attributes.set_many({'units': units, 'timestep_fs': 2.0, 'stage': 'production'})
        node.store()
    results, wc = run_get_node(
        AimdAnalysisWorkChain, trajectory=node, parameters=orm.Dict({'start_frame': 500, 'peak_min_cm1': 20.0})
    )
    assert wc.is_finished_ok, wc.exit_message
    summary = results['summary']
    expected = np.sqrt(5.0 / (masses.prod() / masses.sum()) / AMU_A2_FS2_EV) / (2 * np.pi * SPEED_OF_LIGHT_CM_FS)
    resolution = results['spectra'].base.attributes.get('resolution_cm1')
    assert abs(summary['spectrum_peak_cm1'] - expected) < resolution
    assert summary['velocity_source'] == 'trajectory'
    assert summary['window']['timestep_fs'] == 2.0 and summary['window']['n_frames'] == 1500
    assert summary['optical_fraction'] > 0.98  # all of it at 171 cm^-1 but the window's leakage
    assert results['rmsf'].base.attributes.get('unwrapped_periodic_images') == (flavour == 'cp2k')
    # a rigid bond vibration: the two atoms fluctuate in inverse proportion to their masses
    rmsf = results['rmsf'].base.attributes.get('rmsf_by_element')
    assert rmsf['Se'] / rmsf['Cd'] == pytest.approx(masses[0] / masses[1], rel=1e-6)


def test_periodic_wrapped_trajectory_is_unwrapped():
    """A cluster drifting across the boundaries of a periodic box (wrapped coordinates; whole in the first frame):
    the same RMSF as the unwrapped trajectory, and no spurious velocities in the spectrum.
    """
    drift = np.linspace(0, 40, 300)[:, None, None] * np.array([1.0, 0.5, 0.2])
    frames = fluctuating(n_frames=300, seed=21) + 7.5 + drift
    cell = np.diag([15.0, 15.0, 15.0])
    wrapped = frames - np.floor(frames / 15.0) * 15.0
    times = np.arange(300) * 1.0
    periodic = stored_trajectory(
        wrapped, SYMBOLS, times=times, cells=np.tile(cell, (300, 1, 1)), pbc=(True, True, True)
    )
    plain = stored_trajectory(frames, SYMBOLS, times=times)
    parameters = orm.Dict()
    a, b = trajectory_rmsf(periodic, parameters), trajectory_rmsf(plain, parameters)
    assert a.base.attributes.get('unwrapped_periodic_images') and not b.base.attributes.get('unwrapped_periodic_images')
    np.testing.assert_allclose(a.get_array('rmsf'), b.get_array('rmsf'), atol=1e-9)
    a, b = trajectory_spectra(periodic, parameters), trajectory_spectra(plain, parameters)
    np.testing.assert_allclose(a.get_array('total'), b.get_array('total'), rtol=1e-9, atol=1e-15)
    assert a.base.attributes.get('integral_total_ev') == pytest.approx(b.base.attributes.get('integral_total_ev'))


# ------------------------------------------------------------------------------------------ bad inputs


def test_invalid_inputs_are_rejected_with_the_reason(real_trajectory):
    short = stored_trajectory(fluctuating(n_frames=10), SYMBOLS, times=np.arange(10.0))
    no_time = stored_trajectory(fluctuating(n_frames=40), SYMBOLS)
    cases = [
        (real_trajectory, {'last_frames': 20000}, 'last_frames=20000 is longer than the trajectory'),
        (short, {}, 'the trajectory has 10 frames; the analysis needs at least 16'),
        (no_time, {}, 'no time step'),
        (real_trajectory, {'velocities': 'trajectory'}, 'has no velocities array'),
        (real_trajectory, {'last_frames': 100, 'max_lag_fs': 500.0}, 'max_lag_fs=500 is longer than the window'),
        (real_trajectory, {'acoustic_cutoff': 100}, 'unknown analysis parameter'),
    ]
    for trajectory, parameters, message in cases:
        with pytest.raises(ValueError, match=message):
            run_get_node(AimdAnalysisWorkChain, trajectory=trajectory, parameters=orm.Dict(parameters))


def test_non_finite_positions_give_the_named_exit_code():
    frames = fluctuating(n_frames=100)
    frames[70, 3, 1] = np.nan
    node = stored_trajectory(frames, SYMBOLS, times=np.arange(100.0))
    _, wc = run_get_node(AimdAnalysisWorkChain, trajectory=node, parameters=orm.Dict({'last_frames': 50}))
    assert wc.exit_status == AimdAnalysisWorkChain.exit_codes.ERROR_NON_FINITE_TRAJECTORY.status == 401
    assert 'frame 70 has non-finite positions' in wc.exit_message
    # outside the window the bad frame does not matter
    assert trajectory_rmsf(node, orm.Dict({'last_frames': 25})).is_stored


def test_unconverged_alignment_gives_the_named_exit_code_with_outputs():
    node = stored_trajectory(fluctuating(n_frames=100), SYMBOLS, times=np.arange(100.0))
    results, wc = run_get_node(
        AimdAnalysisWorkChain,
        trajectory=node,
        parameters=orm.Dict({'fit_max_iterations': 1, 'fit_tolerance_angstrom': 1e-12}),
    )
    assert wc.exit_status == AimdAnalysisWorkChain.exit_codes.ERROR_ALIGNMENT_NOT_CONVERGED.status == 420
    assert 'stopped after 1 iterations' in wc.exit_message
    assert set(results) == {'rmsf', 'spectra', 'summary'}
    assert results['summary']['kabsch_converged'] is False


# ---------------------------------------------------------------------------------------------- CLI


def test_cli_analyze_trajectory_json(real_trajectory):
    result = invoke('analyze', 'trajectory', real_trajectory.pk, '--last-frames', 2000, '--json')
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {'rmsf_by_element', 'spectrum_peak_cm1', 'optical_fraction', 'convergence', 'node_pks'}
    assert data['convergence']['spectra']['n_samples'] == 2000
    assert set(data['rmsf_by_element']) == {'Cd', 'Se', 'Cl'}
    assert all(0.1 < v < 1.0 for v in data['rmsf_by_element'].values())
    assert 0 < data['spectrum_peak_cm1'] < 400 and 0 < data['optical_fraction'] < 1
    pks = data['node_pks']
    assert pks['trajectory'] == real_trajectory.pk
    workchain = orm.load_node(pks['workchain'])
    assert workchain.is_finished_ok and workchain.inputs.parameters.get_dict() == {
        'acoustic_cutoff_cm1': 120.0,
        'last_frames': 2000,
    }
    for name in ('rmsf', 'spectra', 'summary'):
        assert workchain.outputs[name].pk == pks[name]
    assert orm.load_node(pks['summary'])['window']['start_frame'] == 13000


def test_cli_analyze_trajectory_text_and_errors(real_trajectory):
    result = invoke('analyze', 'trajectory', real_trajectory.uuid, '--last-frames', 500, '--acoustic-cutoff', 100)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('AimdAnalysisWorkChain: PK ')
    for text in (
        'window: frames 14500..14999 (500 frames, 1 fs apart)',
        'RMSF Cd ',
        'RMSF Se ',
        'RMSF Cl ',
        'main peak: ',
        'acoustic (< 100 cm^-1): ',
        'optical: ',
        'summary: PK ',
        'spectra: NOT converged: resolution',  # 500 fs: 67 cm^-1 bins, fewer than 10 below 100 cm^-1
    ):
        assert text in result.stdout
    result = CliRunner().invoke(cli, ['analyze', 'trajectory', str(real_trajectory.pk), '--last-frames', '20000'])
    assert result.exit_code != 0 and 'longer than the trajectory (15000 frames)' in result.output
    result = CliRunner().invoke(cli, ['analyze', 'trajectory', '999999999'])
    assert result.exit_code != 0 and 'no trajectory node' in result.output


def test_cli_plots_write_pngs(real_analysis, real_trajectory, tmp_path, monkeypatch):
    results, node = real_analysis
    target = tmp_path / 'rmsf.png'
    result = invoke('plot', 'rmsf', node.pk, '--output', target)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(target.resolve())
    assert target.read_bytes().startswith(PNG_SIGNATURE) and target.stat().st_size > 20_000
    # from the summary Dict, with the default name in the working directory
    monkeypatch.chdir(tmp_path)
    result = invoke('plot', 'spectra', results['summary'].pk)
    assert result.exit_code == 0, result.output
    written = tmp_path / f'spectra_{results["summary"].pk}.png'
    assert result.stdout.strip() == str(written.resolve())
    assert written.read_bytes().startswith(PNG_SIGNATURE) and written.stat().st_size > 20_000
    # from the rmsf ArrayData (a sibling output leads to the spectra)
    result = invoke('plot', 'spectra', results['rmsf'].pk, '-o', tmp_path / 'from_rmsf.png', '--max-wavenumber', 300)
    assert result.exit_code == 0 and (tmp_path / 'from_rmsf.png').read_bytes().startswith(PNG_SIGNATURE)
    # a node that is not an analysis
    result = CliRunner().invoke(cli, ['plot', 'rmsf', str(real_trajectory.pk)])
    assert result.exit_code != 0 and 'not an AIMD analysis workchain or one of its outputs' in result.output
    with pytest.raises(QdotsInputError, match='PNG'):
        plot_rmsf(node, tmp_path / 'rmsf.pdf')
