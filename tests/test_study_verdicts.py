"""A plumbing-length Study A configuration (the fast protocol's 60 fs window, 12 level frames, a DISH run without a
hop) filed as a study: the verdicts reach the query table, `compare`, `status` and the figures, and the empty
recombination cell shows its zero-hop lower bound.

The results are made by the real calcfunctions on the shared Cd28Se17Cl22 data (positions, levels) and on a
two-orbital Hamiltonian without coupling, and filed the way :func:`aiida_qdots.common.filing.file_stage` files a
stage's outputs, without running CP2K.
"""

import math
import re

import numpy as np
import pandas as pd
import pytest
from aiida import orm
from aiida.engine import run_get_node
from click.testing import CliRunner

from aiida_qdots.analysis.convergence import stationarity_verdict
from aiida_qdots.cli import cli
from aiida_qdots.common.filing import EXTRAS_KEY, study_group_label
from aiida_qdots.functions.electronic import level_statistics
from aiida_qdots.functions.namd import namd_analysis
from aiida_qdots.functions.trajectory import analysis_summary, trajectory_rmsf, trajectory_spectra
from aiida_qdots.plots.namd import levels_figure, namd_figure
from aiida_qdots.query import VERDICTS, configuration_table, verdict_rows
from aiida_qdots.readers.levels import parse_levels_csv

STUDY, SYSTEM, CONFIGURATION = 'verdict-study', 'Cd28Se17Cl22', 'arrangement-0'
N_REALISATIONS, DURATION_FS = 200, 2000.0


def file_output(node, stage, output):
    group, _ = orm.Group.collection.get_or_create(study_group_label(STUDY, SYSTEM, CONFIGURATION, stage))
    extras = {'study': STUDY, 'system': SYSTEM, 'configuration': CONFIGURATION, 'stage': stage, 'output': output}
    node.base.extras.set(EXTRAS_KEY, {**extras, 'composition': 'cd-rich', 'arrangement': 0, 'protocol': 'fast'})
    group.add_nodes(node)


@pytest.fixture(scope='module')
def plumbing_study(aiida_profile, shared_data_dir, tmp_path_factory):
    import gzip

    from aiida_qdots.structures.importers import import_trajectory

    path = tmp_path_factory.mktemp('frames') / 'first_60.extxyz'
    with gzip.open(shared_data_dir / 'cl_aimd_frames_1-15000.extxyz.gz', 'rt') as handle:
        path.write_text(''.join(handle.readline() for _ in range(60 * 69)))
    trajectory = import_trajectory(path, timestep_fs=1.0)
    parameters = orm.Dict({})
    rmsf, spectra = trajectory_rmsf(trajectory, parameters), trajectory_spectra(trajectory, parameters)
    file_output(analysis_summary(rmsf, spectra, parameters), 'aimd', 'analysis__summary')
    # the Cd-rich workstation run's NVE window heats by 80 K in 4 ps (337 -> 417 K) with 30 K of noise
    times = np.arange(4000.0)
    heating = 337.0 + 0.02 * times + 30.0 * np.random.default_rng(3).standard_normal(times.size)
    stationarity, _ = stationarity_verdict(heating, times)
    file_output(orm.Dict({'production_stationarity': stationarity.as_dict()}).store(), 'aimd', 'checks')

    name = 'Cl_QD_elec_1-10k.csv'
    parsed = parse_levels_csv((shared_data_dir / name).read_bytes(), name, 2)
    levels = orm.ArrayData()
    for array in ('homo', 'lumo', 'lumo_plus1', 'gap'):
        levels.set_array(array, parsed.energies[array][:12])
    levels.set_array('frame_index', parsed.frame_numbers[:12] - 1)
    levels.set_array('time_fs', (parsed.frame_numbers[:12] - 1).astype(float))
    levels.store()
    file_output(levels, 'electronic', 'levels')
    file_output(level_statistics(levels), 'electronic', 'statistics')

    n_frames = 400
    gap = 1.7 + 0.05 * np.sin(np.arange(n_frames) / 3.0)
    hamiltonian = orm.ArrayData()
    hamiltonian.set_array('energies', np.stack([np.full(n_frames, -5.0), -5.0 + gap], axis=1))
    hamiltonian.set_array('overlaps', np.broadcast_to(np.eye(2), (n_frames - 1, 2, 2)).copy())
    hamiltonian.set_array('homo_index', np.array(0))
    namd = {'timestep_fs': 1.0, 'duration_fs': DURATION_FS, 'n_realisations': 50, 'initial_frames': 4}
    outputs, _ = run_get_node(namd_analysis, hamiltonian=hamiltonian, parameters=orm.Dict(namd))
    file_output(outputs['summary'], 'namd', 'summary')
    return {'levels': levels, 'namd_arrays': outputs['arrays']}


def test_table_carries_a_verdict_per_quantity(plumbing_study):
    table = configuration_table(STUDY)
    assert len(table) == 1
    row = table.iloc[0]
    for quantity in VERDICTS:
        assert {f'{quantity}_converged', f'{quantity}_n', f'{quantity}_reason'} <= set(table.columns)
    assert row.rmsf_n == 60 and row.gap_n == 12 and row.nac_n == 399 and row.recombination_n == N_REALISATIONS
    for quantity in ('equilibrium', 'rmsf', 'spectra', 'homo', 'lumo', 'gap', 'recombination'):
        assert row[f'{quantity}_converged'] is False or row[f'{quantity}_converged'] == False  # noqa: E712
    assert 'bins below 120 cm^-1' in row.spectra_reason and 'SEM/sigma' in row.gap_reason
    assert row.equilibrium_reason.startswith('T rises') and row.equilibrium_n == 4000
    assert pd.isna(row.recombination_ns)
    assert row.n_hopped == 0 and row.recombination_bound_confidence == 0.95
    assert row.recombination_lower_bound_ns == pytest.approx(N_REALISATIONS * DURATION_FS / math.log(20) / 1e6)
    judged = [verdict for *_, verdict in verdict_rows(table) if verdict is not None]
    assert len(judged) == len(VERDICTS)


def test_compare_and_status_show_the_verdicts(plumbing_study, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ['compare', '--group', f'qdots/{STUDY}', '--csv', str(tmp_path / 't.csv')])
    assert result.exit_code == 0, result.output
    assert re.search(r'>= \d.*\(95%\)', result.output), result.output  # the bound fills the recombination cell
    assert f'{SYSTEM}/{CONFIGURATION} gap           NOT converged: SEM/sigma' in result.output
    assert re.search(r'arrangement-0 .* NO ', result.output.splitlines()[3]), result.output  # converged columns
    assert 'WARNING: ' in result.output and 'NOT converged' in result.output
    assert 'no hop' not in result.output and 'tau >= ' in result.output
    assert 'gap_converged' in (tmp_path / 't.csv').read_text().splitlines()[0]
    assert f'{SYSTEM}/{CONFIGURATION} equilibrium   NOT converged: T rises' in result.output
    assert 'the NVE production window is not stationary' in result.output

    result = runner.invoke(cli, ['status', '--group', STUDY])
    assert result.exit_code == 0, result.output
    assert f'{SYSTEM}/{CONFIGURATION} rmsf          NOT converged: ' in result.output


def test_figures_show_the_verdicts(plumbing_study):
    figure = levels_figure([plumbing_study['levels']])
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert all('NOT converged (n = 12)' in label for label in labels), labels
    figure = namd_figure([plumbing_study['namd_arrays']])
    texts = [t.get_text() for axes in figure.axes if axes.get_legend() for t in axes.get_legend().get_texts()]
    assert any('tau >= ' in text and '(95%)' in text and 'NOT converged' in text for text in texts), texts
