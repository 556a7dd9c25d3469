"""The dataset layer for real: ``qdots.study`` and ``qdots.lattice_study`` launched by their examples with
``verdi run`` (fast protocol), their groups and extras, the query API, the CLI, figures and the archive round trip.

In the Study A run a Cl kind that CP2K cannot read (a real CP2K abort) breaks every Cd-rich configuration: the
Se-rich one must still finish and the study must say which failed and why.
"""

import json
import time

import numpy as np
import pandas as pd
import pytest
from aiida import orm
from aiida.common.links import LinkType
from click.testing import CliRunner
from examples_support import verdi_run
from profile_state import fresh_profile
from provenance_support import returned_without_creator
from user_answers import answers

from aiida_qdots.cli import cli
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.query import (
    composition_summary,
    configuration_table,
    nanocrystal_table,
    stage_processes,
    status_table,
    studies,
    ued_table,
)
from aiida_qdots.workchains.study import ConfigurationWorkChain, StudyWorkChain

STUDY, LATTICE = 'test-study', 'test-lattice'
SE_RICH, CD_RICH = 'Cd17Se28H22', 'Cd28Se17Cl22'
BROKEN_CL = {'aimd': {'method': {'parameters': {'FORCE_EVAL': {'SUBSYS': {'KIND': [{'_': 'Cl', 'ELEMENT': 'Xx'}]}}}}}}


@pytest.fixture(scope='module')
def study_node(aiida_profile):
    from aiida_qdots.provisioning.codes import get_or_create_code, get_or_create_localhost

    computer, _ = get_or_create_localhost()
    for kind in ('cp2k', 'python'):
        get_or_create_code(kind, computer)
    out = verdi_run(
        aiida_profile.name,
        'study',
        '--label',
        STUDY,
        '--compositions',
        'se-rich,cd-rich',
        '--arrangements',
        '0',
        overrides={'stages': BROKEN_CL},
    )
    node = orm.QueryBuilder().append(StudyWorkChain, filters={'label': STUDY}).one()[0]
    assert f'{node.process_label}<{node.pk}> finished' in out
    return node


@pytest.fixture(scope='module')
def lattice_node(aiida_profile):
    from aiida_qdots.provisioning.codes import get_or_create_code, get_or_create_localhost

    get_or_create_code('lammps', get_or_create_localhost()[0])
    verdi_run(aiida_profile.name, 'lattice_study', '--label', LATTICE, '--nanocrystals', '1.2:0,1.2:1')
    from aiida_qdots.workchains.lattice_study import LatticeStudyWorkChain

    return orm.QueryBuilder().append(LatticeStudyWorkChain, filters={'label': LATTICE}).one()[0]


def test_a_failed_configuration_does_not_stop_the_others(study_node):
    assert study_node.exit_status == StudyWorkChain.exit_codes.ERROR_SOME_CONFIGURATIONS_FAILED.status
    assert '1 of 2 configurations failed: cd_rich_arrangement_0 (aimd: qdots.aimd<' in study_node.exit_message
    entries = study_node.outputs.summary['configurations']
    assert entries['se_rich_arrangement_0']['ok'] and entries['se_rich_arrangement_0']['finished_stages'] == [
        'aimd',
        'electronic',
        'namd',
    ]
    broken = entries['cd_rich_arrangement_0']
    assert not broken['ok'] and broken['failed_stage'] == 'aimd' and broken['finished_stages'] == []
    assert broken['exit_status'] == ConfigurationWorkChain.exit_codes.ERROR_AIMD_FAILED.status


def test_every_finished_stage_is_filed_with_its_extras(study_node):
    for stage, outputs in (
        ('aimd', {'trajectory', 'analysis__summary'}),
        ('electronic', {'statistics', 'levels'}),
        ('namd', {'summary', 'hamiltonian'}),
    ):
        group = orm.load_group(f'qdots/{STUDY}/{SE_RICH}/arrangement-0/{stage}')
        extras = [node.base.extras.get('qdots') for node in group.nodes]
        assert all(e['study'] == STUDY and e['stage'] == stage and e['composition'] == 'se-rich' for e in extras)
        assert all(e['protocol'] == 'fast' and e['temperature_k'] == 300.0 and e['arrangement'] == 0 for e in extras)
        assert outputs <= {e['output'] for e in extras} and None in {e['output'] for e in extras}
    statistics = orm.load_node(configuration_table(STUDY).electronic_statistics_uuid[0])
    assert statistics.label == 'ElectronicWorkChain statistics'  # outputs explain themselves in verdi node show
    assert statistics.description == 'Mean and std (eV) of every level and the gap.'
    assert not orm.QueryBuilder().append(orm.Group, filters={'label': {'like': f'qdots/{STUDY}/{CD_RICH}%'}}).count()
    assert study_node in orm.load_group(f'qdots/{STUDY}').nodes
    assert STUDY in studies()


def test_configuration_table_holds_the_stored_values_and_their_sources(study_node):
    table = configuration_table(STUDY)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row.system, row.configuration, row.composition, row.ligand) == (SE_RICH, 'arrangement-0', 'se-rich', 'H')
    statistics = orm.load_node(row.electronic_statistics_uuid)
    assert row.gap_mean_ev == statistics['gap']['mean_ev'] and row.homo_std_ev == statistics['homo']['std_ev']
    assert 1.0 < row.gap_mean_ev < 6.0 and 0 < row.homo_std_ev < 0.5
    aimd = orm.load_node(row.aimd_summary_pk)
    for element, value in aimd['rmsf_by_element'].items():
        assert row[f'rmsf_{element}_A'] == value > 0
    namd = orm.load_node(row.namd_summary_uuid)
    assert row.mean_abs_nac_mev == namd['mean_abs_nac_mev'] > 0
    assert row.dephasing_time_fs == namd['decoherence_time_fs'] > 0
    # provenance: the summary was made inside the NAMD stage of this study's Se-rich configuration
    namd_stage = namd.creator.caller
    configuration = namd_stage.caller
    assert namd_stage.base.extras.get('qdots')['stage'] == 'namd' and configuration.caller.pk == study_node.pk


def test_every_node_the_studies_return_has_a_creator(study_node, lattice_node):
    """The provenance walk of the demo-sized studies: summaries, built clusters and nanocrystals included."""
    checked, orphans = returned_without_creator([study_node, lattice_node])
    assert checked > 40
    assert not orphans, 'returned without a creator:\n' + '\n'.join(orphans)
    assert study_node.outputs.summary.creator.process_label == 'configuration_summary'
    assert lattice_node.outputs.summary.creator.process_label == 'lattice_summary'
    for structure in lattice_node.inputs.structures.values():
        assert structure.creator.process_label == 'build_nanocrystal_structure'


def test_composition_summary_is_mean_and_std_per_composition():
    table = pd.DataFrame(
        {
            'composition': ['se-rich', 'se-rich', 'cd-rich', 'cd-rich', 'cd-rich'],
            'arrangement': [0, 1, 0, 1, 2],
            'gap_mean_ev': [2.0, 2.2, 1.7, 1.8, 1.6],
            'namd_summary_pk': [1, 2, 3, 4, 5],
        }
    )
    summary = composition_summary(table)
    assert list(summary.index) == ['gap_mean_ev']
    assert summary.loc['gap_mean_ev', ('se-rich', 'mean')] == pytest.approx(2.1)
    assert summary.loc['gap_mean_ev', ('cd-rich', 'std')] == pytest.approx(np.std([1.7, 1.8, 1.6], ddof=1))


def test_cli_compare_status_and_figures(study_node, tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ['compare', '--group', f'qdots/{STUDY}', '--csv', str(tmp_path / 'table.csv')])
    assert result.exit_code == 0, result.output
    assert SE_RICH in result.output and 'gap_mean_ev' in result.output
    written = pd.read_csv(tmp_path / 'table.csv')
    assert written['namd_summary_uuid'].tolist() == configuration_table(STUDY)['namd_summary_uuid'].tolist()

    result = runner.invoke(cli, ['status', '--group', STUDY])
    assert result.exit_code == 0, result.output
    assert 'se_rich_arrangement_0' in result.output and 'namd finished' in result.output
    assert 'cd_rich_arrangement_0' in result.output and '[480]' in result.output
    assert set(status_table(STUDY)['stage']) == {'configuration', 'aimd', 'electronic', 'namd'}

    for figure in ('3a', '4', '5'):
        result = runner.invoke(cli, ['plot', 'figure', figure, '--group', f'qdots/{STUDY}', '--folder', str(tmp_path)])
        assert result.exit_code == 0, result.output
        assert (tmp_path / f'{STUDY}_figure_{figure}.png').stat().st_size > 10_000

    for args, message in [
        (['compare', '--group', 'qdots/no-such-study'], "no study 'no-such-study'"),
        (['plot', 'figure', 'ued', '--group', STUDY], 'no finished ued stage'),
    ]:
        result = runner.invoke(cli, args)
        assert result.exit_code != 0 and message in result.output


def test_lattice_study_tables_and_figures(lattice_node, tmp_path):
    assert lattice_node.is_finished_ok, lattice_node.exit_message
    crystals = nanocrystal_table(LATTICE)
    assert crystals['configuration'].tolist() == ['d12A_shell0', 'd12A_shell1']
    assert (crystals['du2_dT_A2_per_K'] > 0).all() and (crystals['n_modes'] > 0).all()
    shell = crystals.set_index('configuration').loc['d12A_shell1']
    assert 'S' in shell.system and shell.shell_monolayers == 1
    ued = ued_table(LATTICE)
    assert set(ued['wavelength_nm']) == {340.0, 510.0}
    assert ued['msd_slope_from'].unique().tolist() == ['d12A_shell0']
    assert ued['tau_auger_fitted'].all() and ued['tau_trap_fitted'].all()  # one joint fit of both constants
    auger = ued[~ued['hot_holes_trap']].iloc[0]
    low, high = auger.tau_auger_ci_ps
    assert low < auger.tau_auger_ps < high
    fit = orm.load_node(auger.ued_fit_uuid)
    slope = orm.load_node(crystals.set_index('configuration').loc['d12A_shell0', 'phonons_msd_slope_uuid'])
    assert fit.creator.caller.inputs.msd_slope.uuid == slope.uuid  # the UED fit used that nanocrystal's slope
    assert fit.creator.caller.inputs.data.creator.inputs.msd_slope.uuid == slope.uuid  # and the synthetic set too
    result = CliRunner().invoke(cli, ['plot', 'figure', 'phonons', '--group', LATTICE, '--folder', str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert len(list(tmp_path.glob(f'{LATTICE}_phonons_*.png'))) == 2
    assert len(stage_processes(LATTICE, 'ued')) == 1


def provenance(uuid: str) -> set[tuple]:
    """Every link (source UUID, type, label, target UUID) on the way back from node ``uuid`` to its roots."""
    links, todo, seen = set(), [orm.load_node(uuid)], set()
    while todo:
        node = todo.pop()
        if node.uuid in seen:
            continue
        seen.add(node.uuid)
        for link in node.base.links.get_incoming().all():
            links.add((link.node.uuid, link.link_type.value, link.link_label, node.uuid))
            todo.append(link.node)
    return links


def test_archive_round_trip_gives_the_same_table_and_provenance(study_node, lattice_node, tmp_path):
    archive = tmp_path / 'study.aiida'
    result = CliRunner().invoke(cli, ['export', '--group', f'qdots/{STUDY}', str(archive)])
    assert result.exit_code == 0, result.output
    before = configuration_table(STUDY)
    uuid_columns = [column for column in before if column.endswith('_uuid')]
    sources = [uuid for column in uuid_columns for uuid in before[column] if isinstance(uuid, str)]  # None: stage off
    links = {uuid: provenance(uuid) for uuid in sources}
    assert any(link[1] == LinkType.CALL_WORK.value for link in links[before.namd_summary_uuid[0]])
    seen = answers(tmp_path / 'before', STUDY)  # status, compare and figures of this real (demo-sized) study

    with fresh_profile(tmp_path) as name:
        assert not studies()
        result = CliRunner().invoke(cli, ['-p', name, 'import', 'archive', str(archive)])
        assert result.exit_code == 0, result.output
        assert f'studies {STUDY}' in result.output
        after = configuration_table(STUDY)
        pk_columns = [c for c in before if c.endswith('_pk')]
        pd.testing.assert_frame_equal(before.drop(columns=pk_columns), after.drop(columns=pk_columns))
        assert {uuid: provenance(uuid) for uuid in sources} == links
        again = answers(tmp_path / 'after', STUDY, name)
        assert again['status'] == seen['status'] and again['figures'] == seen['figures']
        pd.testing.assert_frame_equal(again['table'], seen['table'])
        assert not nanocrystal_table(STUDY).size and studies() == [STUDY]  # only this study was exported

        junk = tmp_path / 'not-an-archive.aiida'
        junk.write_text('gap_mean_ev\n1.9\n')
        result = CliRunner().invoke(cli, ['-p', name, 'import', 'archive', str(junk)])
        assert result.exit_code == 1 and 'not an AiiDA archive' in result.output


def test_bad_study_inputs_are_refused_before_anything_runs(aiida_profile):
    from aiida_qdots.provisioning.codes import get_or_create_code, get_or_create_localhost

    computer, _ = get_or_create_localhost()
    cp2k, python = get_or_create_code('cp2k', computer)[0], get_or_create_code('python', computer)[0]
    nodes = orm.QueryBuilder().append(orm.Node).count()
    for args, message in [
        (('a/b', ['se-rich'], [0]), 'study label'),
        (('ok', ['se-rich'], [0], 'fast', {'stages': {'phonons': {}}}), 'unknown stage(s) phonons'),
        (('ok', ['se-rich'], [0], 'fast', {'stages': {'aimd': {'stagez': []}}}), 'unknown override(s) stagez'),
        (
            ('ok', ['se-rich'], [0], 'fast', {'stages': {'aimd': {'segment_steps': 0}}}),
            'segment_steps must be positive',
        ),
        (('ok', ['se-rich'], [0], 'fast', {'stages': {'namd': {'scf': {'ADDED_MOS': 2}, 'windw': {}}}}), 'windw'),
        (('ok', ['se-rich'], [0], 'fast', {'stages': {'electronic': {'method': {'kind': {}}}}}), 'override(s) kind'),
        (('ok', ['se-rich'], [0], 'fast', {'stages': {'electronic': {'selection': {'stride_fs': 100.0}}}}), 'keeps 1'),
        (('ok', ['se-rich'], [0], 'fast', {'stages': {'namd': {'window': {'n_frames': 3}}}}), 'at least 4 frames'),
        (('ok', ['se-rich'], [0], 'ultra'), "unknown protocol 'ultra'"),
    ]:
        with pytest.raises(QdotsInputError, match=message.replace('(', r'\(').replace(')', r'\)')):
            StudyWorkChain.get_builder_from_protocol(cp2k, python, *args)
    result = CliRunner().invoke(
        cli, ['launch', 'study', '--label', 'x', '--composition', 'se-rich', '--arrangements', '99']
    )
    assert result.exit_code != 0 and 'arrangement' in result.output.lower()
    assert orm.QueryBuilder().append(orm.Node).count() == nodes


def test_misspelt_override_in_launch_study_fails_before_any_process(aiida_profile):
    """The override is checked when the study is built: no process node, no CP2K job, the key named."""
    from aiida_qdots.provisioning.codes import get_or_create_code, get_or_create_localhost

    computer, _ = get_or_create_localhost()
    for kind in ('cp2k', 'python'):
        get_or_create_code(kind, computer)
    processes = orm.QueryBuilder().append(orm.ProcessNode).count()
    args = ['launch', 'study', '--label', 'typo', '--composition', 'se-rich']
    start = time.perf_counter()
    result = CliRunner().invoke(cli, [*args, '--overrides', json.dumps({'stages': {'aimd': {'segment_step': 30}}})])
    print(f'misspelt override refused in {time.perf_counter() - start:.2f} s')
    assert result.exit_code != 0 and 'unknown override(s) segment_step for AimdWorkChain' in result.output
    assert orm.QueryBuilder().append(orm.ProcessNode).count() == processes


def test_configuration_inputs_are_resolved_when_built(aiida_profile):
    """Every stage's inputs exist in the builder (the AIMD production stage fixes the NAMD window and time step);
    a configuration alone gets the CP2K kinds of its own elements, a study those of all its compositions."""
    from aiida_qdots.protocols import cp2k_method
    from aiida_qdots.provisioning.codes import get_or_create_code, get_or_create_localhost

    computer, _ = get_or_create_localhost()
    cp2k, python = get_or_create_code('cp2k', computer)[0], get_or_create_code('python', computer)[0]
    overrides = {'namd': {'window': {'n_frames': 12}}}
    builder = ConfigurationWorkChain.get_builder_from_protocol(cp2k, python, 'cd-rich', 0, 'moderate', overrides)
    production = builder.aimd.stages.get_list()[-1]
    assert builder.namd.window.get_dict() == {'n_frames': 12, 'first_frame': production['steps'] - 12}
    assert builder.namd.namd['timestep_fs'] == builder.aimd.timestep_fs.value
    assert builder.aimd.parameters.get_dict() == cp2k_method(['Cd', 'Cl', 'Se'], 'moderate')
    assert builder.electronic.parameters.get_dict() == builder.namd.parameters.get_dict()
    kinds = builder.electronic.parameters['FORCE_EVAL']['SUBSYS']['KIND']
    assert [kind['_'] for kind in kinds] == ['Cd', 'Cl', 'Se']
    study = StudyWorkChain.get_builder_from_protocol(cp2k, python, 'kinds', ['se-rich', 'cd-rich'], [0], 'moderate')
    kinds = study.configuration.aimd.relax.cp2k.cp2k.parameters['FORCE_EVAL']['SUBSYS']['KIND']
    assert [kind['_'] for kind in kinds] == ['Cd', 'Cl', 'H', 'Se']


def test_workstation_protocol_is_long_enough_for_statistics(aiida_profile):
    """The workstation Study A protocol (issue: >= 1 ps NVT, >= 4 ps NVE, levels every 10-20 fs over the production
    window, >= 0.5 ps NAMD window of consecutive frames, >= 1 ns DISH x >= 1000 realisations) with the fast method."""
    from aiida_qdots.protocols import cp2k_method
    from aiida_qdots.provisioning.codes import get_or_create_code, get_or_create_localhost
    from aiida_qdots.workchains.aimd import stage_blocks

    computer, _ = get_or_create_localhost()
    cp2k, python = get_or_create_code('cp2k', computer)[0], get_or_create_code('python', computer)[0]
    builder = StudyWorkChain.get_builder_from_protocol(cp2k, python, 'ws', ['se-rich', 'cd-rich'], [0], 'workstation')
    config = builder.configuration
    stages = {stage['name']: stage for stage in config.aimd.stages.get_list()}
    dt = config.aimd.timestep_fs.value
    assert stages['equilibration']['ensemble'] == 'NVT' and stages['equilibration']['steps'] * dt >= 1000
    n_production = sum(steps for _, steps in stage_blocks(stages['production']))
    assert stages['production']['ensemble'] == 'NVE' and n_production * dt >= 4000
    selection = config.electronic.selection.get_dict()
    assert 10 <= selection['stride_fs'] <= 20 and selection['window_fs'] <= n_production * dt
    assert n_production * dt / selection['stride_fs'] >= 200
    window = config.namd.window.get_dict()
    assert window['n_frames'] * dt >= 500 and window['first_frame'] + window['n_frames'] == n_production
    namd = config.namd.namd.get_dict()
    assert namd['duration_fs'] >= 1e6 and namd['n_realisations'] >= 1000
    assert builder.max_concurrent.value == 1
    method = cp2k_method(['Cd', 'Cl', 'H', 'Se'], 'fast')
    assert config.aimd.parameters.get_dict() == method
    assert config.aimd.parameters['FORCE_EVAL']['DFT']['QS']['METHOD'] == 'xTB'


def test_reproduction_report_of_a_stored_study(study_node, tmp_path):
    """``reproduce study-a --report-only`` writes the report of what finished: the Se-rich rows beside the paper's
    numbers, wall times, ordering lines and figures; the failed Cd-rich configuration makes it exit non-zero."""
    result = CliRunner().invoke(
        cli, ['reproduce', 'study-a', '--label', STUDY, '--report-only', '--folder', str(tmp_path / 'report')]
    )
    assert result.exit_code == 1 and 'failed: exit status' in result.output, result.output
    text = (tmp_path / 'report' / 'README.md').read_text()
    assert f'## {SE_RICH} (se-rich), arrangement-0' in text and CD_RICH not in text.split('## ')[1]
    assert '| dephasing time (fs), Gaussian fit of D(t) |' in text and '| 6.6 |' in text
    assert '| aimd |' in text and 'not finished' not in text.split('## ')[1]
    assert 'se-rich: HOMO sigma > LUMO sigma' in text
    assert (tmp_path / 'report' / 'rmsf_se-rich_arrangement-0.png').stat().st_size > 10_000
