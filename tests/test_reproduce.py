"""``aiida-qdots reproduce study-a`` for real: a shortened workstation Study A (same method, SCF and sampling
stride, fewer steps) run in this process, then the report written from its stored nodes (opt-in, ``-m slow``:
about 15 minutes on 2 cores); and the report's account of jobs a resumed run took from the cache."""

import pytest
from aiida import orm
from aiida.engine import run_get_node
from click.testing import CliRunner

from aiida_qdots.cli import cli
from aiida_qdots.workchains.study import StudyWorkChain

SHORTENED = {
    'vibrations': False,  # the Raman stage has its own slow tests (tests/test_vibrations.py)
    'stages': {
        'aimd': {
            'stages': [
                {'name': 'heating', 'ensemble': 'NVT', 'temperatures': [150.0, 300.0], 'steps_per_temperature': 20},
                {'name': 'equilibration', 'ensemble': 'NVT', 'temperature': 300.0, 'steps': 100},
                {'name': 'production', 'ensemble': 'NVE', 'temperature': 300.0, 'steps': 400},
            ],
            'segment_steps': 200,
        },
        'electronic': {'selection': {'window_fs': 400.0}},
        'namd': {'window': {'n_frames': 60}, 'chunk_frames': 30, 'namd': {'duration_fs': 1.0e5, 'n_realisations': 200}},
    },
}
"""The workstation protocol with 0.5 ps of dynamics instead of 5.3 ps, a 60-frame NAMD window and no Raman stage."""


@pytest.mark.slow
def test_shortened_workstation_study_and_its_report(aiida_profile, tmp_path):
    from aiida_qdots.provisioning.codes import get_or_create_code, get_or_create_localhost

    computer, _ = get_or_create_localhost()
    cp2k, python = get_or_create_code('cp2k', computer)[0], get_or_create_code('python', computer)[0]
    builder = StudyWorkChain.get_builder_from_protocol(
        cp2k, python, 'ws-short', ['se-rich', 'cd-rich'], [0], 'workstation', SHORTENED
    )
    assert builder.configuration.electronic.selection['stride_fs'] == 20.0
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message

    folder = tmp_path / 'report'
    result = CliRunner().invoke(
        cli, ['reproduce', 'study-a', '--label', 'ws-short', '--report-only', '--folder', str(folder)]
    )
    assert result.exit_code == 0, result.output
    text = (folder / 'README.md').read_text()
    for system in ('Cd17Se28H22 (se-rich)', 'Cd28Se17Cl22 (cd-rich)'):
        assert f'## {system}, arrangement-0, protocol `workstation`' in text
    assert text.count('HOMO sigma (eV), n = 20 frames') == 2
    assert 'LUMO sigma larger in Cd-rich than in Se-rich' in text and 'not finished' not in text
    configuration = orm.load_node(node.outputs.summary['configurations']['se_rich_arrangement_0']['pk'])
    assert configuration.is_finished_ok


def test_report_counts_the_jobs_a_resumed_stage_took_from_the_cache(aiida_profile):
    """A stage resumed after an interruption takes its finished jobs from the cache: the report counts them and adds
    the time their sources took, so the stage's wall time is not silently too short."""
    from aiida.common.links import LinkType

    from aiida_qdots.reports.study_a import Configuration

    stage = orm.WorkflowNode()
    stage.store()
    source = orm.CalcJobNode()
    source.store()
    for cached in (True, False):
        job = orm.CalcJobNode()
        job.base.links.add_incoming(stage, LinkType.CALL_CALC, 'job')
        job.store()
        if cached:
            job.base.extras.set('_aiida_cached_from', source.uuid)
    config = Configuration('Cd17Se28H22', 'arrangement-0', {'aimd': stage})
    jobs, cached, seconds = config.cached_jobs('aimd')
    assert (jobs, cached) == (2, 1)
    assert seconds == pytest.approx((source.mtime - source.ctime).total_seconds())
    assert Configuration('Cd17Se28H22', 'arrangement-0', {}).cached_jobs('aimd') == (0, 0, 0)


def test_report_shows_the_stored_verdict_of_every_level_statistic(aiida_profile):
    """The HOMO, LUMO and gap rows carry the verdict ``level_statistics`` stored (the report once looked for it in
    the wrong place and printed 'no verdict stored' beside stored verdicts)."""
    import numpy as np

    from aiida_qdots.functions.electronic import LEVEL_ARRAYS, level_statistics
    from aiida_qdots.reports.study_a import Configuration, quantities

    levels = orm.ArrayData()
    for name, values in zip(LEVEL_ARRAYS, np.random.default_rng(0).normal(size=(len(LEVEL_ARRAYS), 200)), strict=True):
        levels.set_array(name, values)
    levels.set_array('frame_index', np.arange(200) * 20)
    stats = level_statistics(levels).get_dict()

    class Stored(Configuration):
        def output(self, stage, name):
            return stats if (stage, name) == ('electronic', 'statistics') else None

    rows = quantities(Stored('Cd17Se28H22', 'arrangement-0', {}))
    verdicts = {q: v for q, _, _, v in rows if 'sigma' in q or 'mean gap' in q}
    assert len(verdicts) == 4
    for quantity, verdict in verdicts.items():
        level = 'gap' if 'gap' in quantity.lower() else quantity.split()[0].lower()
        expected = 'converged' if stats['convergence'][level]['converged'] else 'NOT converged'
        assert verdict.startswith(f'{expected} ('), (quantity, verdict)


def test_report_says_whether_the_nve_window_is_stationary():
    """The first row of a configuration is the NVE production temperature with its halves, trend and the
    stationarity verdict ``md_checks`` stored; checks stored before the verdict give their mean and 'no verdict'."""
    import numpy as np

    from aiida_qdots.analysis.convergence import stationarity_verdict
    from aiida_qdots.reports.study_a import Configuration, quantities

    times = np.arange(4000.0)
    heating = 337.0 + 0.02 * times + 30.0 * np.random.default_rng(3).standard_normal(times.size)
    verdict, numbers = stationarity_verdict(heating, times)
    block = {
        'stage': 'production',
        'mean_temperature_K': numbers['second_half_mean'],
        'block_mean_temperature_K': numbers['mean'],
        'first_half_mean_temperature_K': numbers['first_half_mean'],
        'second_half_mean_temperature_K': numbers['second_half_mean'],
        'temperature_trend_K_per_ps': numbers['trend_per_ps'],
        'stationarity': verdict.as_dict(),
    }
    for checks, expected in (
        ({'blocks': [block], 'production_stationarity': verdict.as_dict()}, 'NOT converged (T rises'),
        ({'blocks': [{'stage': 'production', 'mean_temperature_K': 350.0}]}, 'no verdict stored'),
    ):

        class Stored(Configuration):
            def output(self, stage, name, checks=checks):
                return checks if (stage, name) == ('aimd', 'checks') else None

        quantity, value, _, shown = quantities(Stored('Cd28Se17Cl22', 'arrangement-0', {}))[0]
        assert 'stationary' in quantity and shown.startswith(expected), shown
    assert value == '350 (second half)'
