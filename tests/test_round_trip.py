"""A study shared by archive gives the same answers in a fresh profile: ``status``, ``compare`` and the figures of a
small stored Study A (``study_nodes.py``) before ``export`` and after ``import archive``, where every PK differs;
and a study run twice is filed once."""

import pandas as pd
import pytest
from aiida import orm
from click.testing import CliRunner
from profile_state import fresh_profile
from study_nodes import build_stored_study
from user_answers import answers

from aiida_qdots.cli import cli
from aiida_qdots.query import configuration_table

STUDY, SE_RICH = 'round-trip', 'Cd17Se28H22'


@pytest.fixture(scope='module')
def stored_study(aiida_profile, shared_data_dir):
    return build_stored_study(STUDY, shared_data_dir / 'Cl_QD_elec_1-10k.csv')


def test_status_compare_and_figures_are_the_same_after_export_and_import(stored_study, tmp_path):
    before = answers(tmp_path / 'before', STUDY)
    assert 'se_rich_arrangement_0' in before['status'] and 'namd finished' in before['status']
    assert 'cd_rich_arrangement_0' in before['status'] and 'aimd finished [310]' in before['status']
    archive = tmp_path / 'study.aiida'
    result = CliRunner().invoke(cli, ['export', '--group', f'qdots/{STUDY}', str(archive)])
    assert result.exit_code == 0, result.output
    with fresh_profile(tmp_path) as name:
        result = CliRunner().invoke(cli, ['-p', name, 'import', 'archive', str(archive)])
        assert result.exit_code == 0, result.output
        after = answers(tmp_path / 'after', STUDY, name)
    assert after['status'] == before['status']
    pd.testing.assert_frame_equal(after['table'], before['table'])
    assert after['figures'] == before['figures']


def test_a_rerun_replaces_the_earlier_run_in_the_configuration_groups(aiida_profile, shared_data_dir):
    """The same study run twice: its groups hold the second run only, ``compare`` gives one row with the second
    run's values, ``status`` lists both runs."""
    levels = shared_data_dir / 'Cl_QD_elec_1-10k.csv'
    first, second = (build_stored_study('rerun', levels, frames=frames) for frames in (200, 100))
    configuration = second.base.links.get_outgoing(link_label_filter='se_rich_arrangement_0').one().node
    table = configuration_table('rerun')
    assert len(table) == 1 and table.n_level_frames[0] == 100
    for stage in ('aimd', 'electronic', 'namd'):
        members = list(orm.load_group(f'qdots/rerun/{SE_RICH}/arrangement-0/{stage}').nodes)
        assert {node.base.extras.get('qdots')['run'] for node in members} == {configuration.uuid}
        (process,) = [node for node in members if isinstance(node, orm.ProcessNode)]
        assert process.caller.uuid == configuration.uuid
    output = CliRunner().invoke(cli, ['status', '--group', 'rerun']).output
    assert f'StudyWorkChain<{first.pk}>' in output and f'StudyWorkChain<{second.pk}>' in output
