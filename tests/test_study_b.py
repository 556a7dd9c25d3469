"""Study B reproduction (``qdots.study_b``, ``aiida-qdots reproduce study-b``): protocols and builder, the lifetime
band statistics, the block error of dG(r), the report on stored nodes; the whole chain for real at ``fast`` (slow)."""

import numpy as np
import pytest
from aiida import orm
from click.testing import CliRunner
from study_b_nodes import SPRING_EV_A2, build_stored_study_b, einstein_trajectory

from aiida_qdots.analysis.mode_lifetimes import band_statistics
from aiida_qdots.cli import cli
from aiida_qdots.cli.reproduce import latest_study
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.units import KB_EV_K
from aiida_qdots.functions.diffraction import analyze_diffraction, diffraction_block_error
from aiida_qdots.protocols import load_protocol_file
from aiida_qdots.readers.lammps import parse_lammps_log
from aiida_qdots.workchains.phonons import PhononsWorkChain, validate_parameters
from aiida_qdots.workchains.study_b import PARTS, StudyBWorkChain, part_problem


@pytest.mark.parametrize('protocol', list(load_protocol_file('study_b.yaml')['protocols']))
def test_every_protocol_gives_valid_phonons_inputs_for_both_parts(protocol):
    """Without building a particle: each part's phonons inputs pass the phonons validator and carry its stages."""
    inputs = StudyBWorkChain.get_protocol_inputs(protocol)
    for part in PARTS:
        phonons = PhononsWorkChain.get_protocol_inputs(inputs[part]['phonons_protocol'], inputs[part]['overrides'])
        phonons.pop('force_field')
        assert validate_parameters(orm.Dict(phonons)) is None
        assert part_problem(part, phonons) is None


def test_workstation_protocol_has_the_seed_shell_and_range():
    inputs = StudyBWorkChain.get_protocol_inputs('workstation')
    assert inputs['lattice']['nanocrystal']['shell_monolayers'] == 8
    phonons = PhononsWorkChain.get_protocol_inputs('workstation', inputs['lattice']['overrides'])
    assert min(phonons['msd']['temperatures']) == 150.0 and max(phonons['msd']['temperatures']) == 500.0
    assert phonons['pdf']['temperatures'] == [300.0, 314.0]


def test_builder_fast_and_bad_override_stores_nothing(aiida_profile, lammps_code):
    builder = StudyBWorkChain.get_builder_from_protocol(lammps_code, 'b-fast', 'fast')
    assert set(builder.lattice.parameters['stages']) == {'msd', 'pdf'}
    assert set(builder.lifetimes.parameters['stages']) == {'modes', 'lifetimes'}
    assert builder.lattice.structure.is_stored and builder.metadata.label == 'b-fast'
    before = orm.QueryBuilder().append(orm.Node).count()
    with pytest.raises(QdotsInputError, match='lattice: the phonons stages must include msd, pdf'):
        StudyBWorkChain.get_builder_from_protocol(
            lammps_code, 'b-bad', 'fast', {'lattice': {'overrides': {'stages': ['modes']}}}
        )
    with pytest.raises(QdotsInputError, match='unknown override'):
        StudyBWorkChain.get_builder_from_protocol(lammps_code, 'b-bad', 'fast', {'lattise': {}})
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_band_statistics_counts_and_exact_medians():
    """Constant lifetimes per band: the median is exact and its bootstrap interval has no width; unresolved modes
    count in the band but not in the median."""
    f = np.array([0.1, 0.2, 0.3, 1.5, 1.6, 1.7, 1.8])
    tau = np.array([10000.0, 10000.0, np.inf, 800.0, 800.0, 800.0, np.inf])
    rows = band_statistics(f, tau, (0.0, 0.5, 1.0, 2.0), max_lag_fs=6000.0)
    assert [r['n_modes'] for r in rows] == [3, 0, 4]
    assert [r['n_resolved'] for r in rows] == [2, 0, 3]
    assert rows[0]['median_ps'] == 10.0 and rows[0]['median_ci95_ps'] == [10.0, 10.0]
    assert rows[0]['n_within_window'] == 0 and not rows[0]['converged']  # 10 ps > 6 ps / 3
    assert rows[2]['median_ps'] == 0.8 and rows[2]['fraction_below_1ps'] == 1.0 and rows[2]['converged']
    assert not rows[1]['converged'] and 'median_ps' not in rows[1]


def test_band_statistics_interval_covers_the_true_median():
    """Exponentially distributed lifetimes (mean 1 ps): the 95 % interval of the median covers ln 2 ps."""
    rng = np.random.default_rng(3)
    tau = rng.exponential(1000.0, 3000)
    row = band_statistics(np.full(tau.size, 2.0), tau, (0.0, 5.0), max_lag_fs=1e6, seed=4)[0]
    low, high = row['median_ci95_ps']
    assert low < np.log(2) < high and high - low < 0.1


def test_lammps_log_cpu_use():
    text = 'Loop time of 27.2 on 2 procs for 2000 steps with 352 atoms\n\n24.7% CPU use with 2 MPI tasks x 1 OpenMP\n'
    block_text = 'Per MPI rank memory allocation (min/avg/max) = 3 | 3 | 3 Mbytes\n   Step Temp\n  0 300\n' + text
    (block,) = parse_lammps_log(block_text).blocks
    assert block.loop_time == 27.2 and block.cpu_use_percent == 24.7


def test_block_error_of_dg_averages_to_the_full_dg(aiida_profile):
    """dG is linear in the frame average of I(Q), so with equal halves the mean of the two block dGs is the full
    dG (an identity the block code cannot fake); identical frames give zero error."""
    from aiida_qdots.functions.nanocrystals import nanocrystal_structure

    structure = nanocrystal_structure(diameter=15.0)
    cold, hot = einstein_trajectory(structure, 300.0, 1), einstein_trajectory(structure, 314.0, 2)
    parameters = orm.Dict({'nve_start_fs': 0.0, 'max_frames': 24, 'q_step': 0.05})
    full = analyze_diffraction(parameters, cold, hot)
    blocks = diffraction_block_error(parameters, cold, hot)
    np.testing.assert_allclose(blocks.get_array('delta_g_blocks').mean(axis=0), full.get_array('delta_g'), atol=1e-12)
    assert blocks.get_array('delta_g_stderr').max() > 0
    same = diffraction_block_error(parameters, cold, cold)
    assert np.abs(same.get_array('delta_g_stderr')).max() < 1e-12


def test_report_on_stored_nodes(aiida_profile, tmp_path):
    parts = build_stored_study_b('b-stored')
    errors = orm.QueryBuilder().append(
        orm.CalcFunctionNode, filters={'attributes.process_label': 'diffraction_block_error'}
    )
    before = errors.count()
    result = CliRunner().invoke(
        cli, ['reproduce', 'study-b', '--label', 'b-stored', '--report-only', '--folder', str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / 'README.md').read_text()
    expected = 3 * KB_EV_K / SPRING_EV_A2 * 1e4  # Einstein solid, 10^-4 A^2/K
    slope = parts['lattice'].outputs.msd_slope['by_weighting']['atoms']['slope_A2_per_K'] * 1e4
    assert abs(slope - expected) < 0.1 * expected
    assert f'| atoms | {slope:.3g} ±' in text and 'linear (max' in text
    assert '| 2.5 |' in text and '| 7.1 |' in text and 'two blocks' in text
    assert '| 0-0.5 |' in text and 'share below 1 ps' in text
    assert {p.name for p in tmp_path.iterdir()} >= {'README.md', 'lattice.png', 'lifetimes_fig2e.png', 'modes.png'}
    # the block error is stored once and reused
    again = CliRunner().invoke(
        cli, ['reproduce', 'study-b', '--label', 'b-stored', '--report-only', '--folder', str(tmp_path)]
    )
    assert again.exit_code == 0, again.output
    assert errors.count() == before + 1


@pytest.mark.slow
def test_fast_study_b_for_real_and_its_report(aiida_profile, lammps_code, tmp_path):
    """The whole chain in this process at `fast` (2 nm core/shell particle for both parts): about 2 minutes."""
    result = CliRunner().invoke(
        cli,
        [
            'reproduce',
            'study-b',
            '--label',
            'b-real',
            '--protocol',
            'fast',
            '--code',
            lammps_code.full_label,
            '--folder',
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / 'README.md').read_text()
    assert 'not reached' not in text and '## Mode lifetimes against frequency' in text
    assert 'electron_scattering over Q = 1.5-6' in text and '| lattice | md 500 K |' in text


@pytest.mark.slow
def test_a_relaunch_takes_every_lammps_job_from_the_cache(aiida_profile, lammps_code, tmp_path):
    """`reproduce study-b` at `fast` twice with the same inputs (the second as a relaunch after a failure would be: a
    new qdots.study_b): every LAMMPS job of the second run is a cache hit of the first's, and the report's numbers
    (everything above the wall-time table) are the same."""

    def run(label):
        folder = tmp_path / label
        arguments = ['reproduce', 'study-b', '--label', label, '--protocol', 'fast', '--code', lammps_code.full_label]
        result = CliRunner().invoke(cli, [*arguments, '--folder', str(folder)])
        assert result.exit_code == 0, result.output
        node = latest_study(label, 'StudyBWorkChain')
        jobs = [n for n in node.called_descendants if n.process_type == 'aiida.calculations:qdots.lammps']
        text = (folder / 'README.md').read_text()
        science = text[text.index('## MSD(T)') : text.index('## Wall and CPU times')]
        return node, jobs, science

    first, first_jobs, first_report = run('b-first')
    again, jobs, report = run('b-again')
    assert again.process_class is StudyBWorkChain and first.is_finished_ok and again.is_finished_ok
    assert len(jobs) == len(first_jobs) >= 4
    sources = {job.uuid for job in first_jobs}
    for job in jobs:
        assert job.base.caching.is_created_from_cache, job.label
        assert job.base.caching.get_cache_source() in sources, job.label
    assert report == first_report


def test_every_calcjob_class_maps_back_to_its_entry_point():
    """Caching (resumability) matches ``aiida.calculations:qdots.*`` on the process type, which AiiDA derives from
    the class's module: an entry point naming a re-export (a package ``__init__``) leaves the class path instead."""
    from aiida.plugins import CalculationFactory
    from aiida.plugins.entry_point import get_entry_point_from_class

    for name in ('qdots.lammps', 'qdots.overlaps', 'qdots.dish'):
        process = CalculationFactory(name)
        assert get_entry_point_from_class(process.__module__, process.__name__)[1].name == name
