"""Level statistics (pure NumPy) and the analyze_levels calcfunction / `aiida-qdots analyze levels` on imported
real HOMO/LUMO labels.
"""

import json
import math
import pathlib
import re

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from click.testing import CliRunner
from scipy.signal import lfilter

from aiida_qdots.analysis.electronic import (
    blocking_table,
    gap_series,
    level_statistics,
    series_statistics,
    uniform_timestep,
)
from aiida_qdots.cli import cli
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.units import HBAR_EV_FS
from aiida_qdots.functions.levels import (
    LEVELS_ANALYSIS_DEFAULTS,
    analyze_levels,
    levels_analysis_parameters,
    load_levels,
)
from aiida_qdots.readers.levels import parse_levels_csv

CONVENTION_NAMES = {
    'gaussian_cumulant',
    'pyxaid_gaussian',
    'exponential_cumulant',
    'one_over_e',
    'gaussian_short_time',
    'libra_sigma',
}


def ar1(n, a, sigma, seed):
    rng = np.random.default_rng(seed)
    kicks = rng.standard_normal(n) * sigma * math.sqrt(1 - a * a)
    kicks[0] = rng.standard_normal() * sigma
    return lfilter([1.0], [1.0, -a], kicks)


# ------------------------------------------------------------------------------------------- pure kernels


def test_block_averaged_sem_of_correlated_series():
    """AR(1) with a = 0.9: statistical inefficiency (1 + a) / (1 - a) = 19, SEM^2 = 19 sigma^2 / N."""
    a, sigma, n = 0.9, 0.1, 2**17
    x = 1.5 + ar1(n, a, sigma, seed=1)
    stats = series_statistics(x, 'ar1')
    expected = sigma * math.sqrt((1 + a) / (1 - a) / n)
    assert stats.converged
    assert stats.sem == pytest.approx(expected, rel=0.2)
    assert stats.statistical_inefficiency == pytest.approx(19.0, rel=0.4)
    assert stats.block_size >= 16 and stats.n_blocks >= 16
    assert stats.mean == pytest.approx(x.mean()) and stats.std == pytest.approx(x.std())
    # uncorrelated samples: the naive estimate is already the plateau
    white = series_statistics(np.random.default_rng(2).normal(0, sigma, n))
    assert white.converged and white.block_size <= 4
    assert white.sem == pytest.approx(sigma / math.sqrt(n), rel=0.1)
    rows = blocking_table(x, min_blocks=16)
    assert [r.block_size for r in rows] == [2**k for k in range(len(rows))] and rows[-1].n_blocks >= 16


def test_level_statistics_of_the_real_labels(shared_data_dir):
    path = pathlib.Path(shared_data_dir) / 'Cl_QD_elec_1-10k.csv'
    energies = parse_levels_csv(path.read_bytes(), path.name, 2).energies
    stats = level_statistics(energies)
    assert set(stats) == {'homo', 'lumo', 'gap'}
    for name in stats:
        assert stats[name].mean == pytest.approx(energies[name].mean(), rel=1e-12)
        assert stats[name].std == pytest.approx(energies[name].std(), rel=1e-12)
        assert stats[name].sem > stats[name].blocking[0].sem  # correlated frames
    assert stats['gap'].mean == pytest.approx(stats['lumo'].mean - stats['homo'].mean, abs=1e-6)
    derived = level_statistics({'homo': energies['homo'], 'lumo': energies['lumo']})['gap']
    assert derived.std == pytest.approx(stats['gap'].std, rel=1e-5)


def test_series_helpers():
    np.testing.assert_allclose(gap_series([-5.0, -5.1], [-3.0, -3.2]), [2.0, 1.9])
    with pytest.raises(ValueError, match='frame 1: LUMO'):
        gap_series([-5.0, -3.0], [-3.0, -3.2])
    assert uniform_timestep([0.0, 2.0, 4.0, 6.0]) == 2.0
    with pytest.raises(ValueError, match='evenly spaced'):
        uniform_timestep([0.0, 2.0, 5.0])
    with pytest.raises(ValueError, match='not finite'):
        series_statistics([1.0, np.nan] * 20)


# ------------------------------------------------------------------------------------------- AiiDA


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_analyze_levels_calcfunction(real_levels):
    outputs, node = run_get_node(analyze_levels, levels=real_levels, parameters=orm.Dict({}))
    assert node.is_finished_ok
    summary = outputs['summary'].get_dict()
    gap = real_levels.get_array('gap')
    assert summary['gap_mean_ev'] == pytest.approx(gap.mean()) and summary['gap_std_ev'] == pytest.approx(gap.std())
    assert summary['homo_std_ev'] == pytest.approx(real_levels.get_array('homo').std())
    assert summary['lumo_std_ev'] == pytest.approx(real_levels.get_array('lumo').std())
    assert set(summary['dephasing_fs']) == CONVENTION_NAMES
    assert summary['paper_convention'] == 'gaussian_cumulant'
    assert summary['dephasing_fs']['gaussian_cumulant'] == pytest.approx(HBAR_EV_FS / gap.std(), rel=0.05)
    assert set(CONVENTION_NAMES) <= set(summary['conventions'])
    assert summary['window']['timestep_fs'] == 2.0 and summary['window']['n_frames'] == 5000
    assert summary['dephasing_resolved'] and summary['levels_uuid'] == real_levels.uuid
    assert summary['statistics']['gap']['sem_block_size'] >= 1
    curves = outputs['dephasing']
    assert {
        'time_fs',
        'acf',
        'cumulant',
        'dephasing',
        'fit_gaussian_cumulant',
        'fit_pyxaid_gaussian',
        'fit_exponential_cumulant',
    } == set(curves.get_arraynames())
    t = curves.get_array('time_fs')
    assert t[1] == 2.0 and t.size == 2500
    assert curves.get_array('acf')[0] == pytest.approx(gap.var())
    np.testing.assert_allclose(curves.get_array('dephasing'), np.exp(-curves.get_array('cumulant')))
    attributes = curves.base.attributes.all
    assert attributes['units']['acf'] == 'eV^2' and attributes['units']['time_fs'] == 'fs'
    assert attributes['times_fs'] == summary['dephasing_fs']
    # provenance: levels + parameters -> analyze_levels -> summary, dephasing
    inputs = {link.link_label: link.node.uuid for link in node.base.links.get_incoming().all()}
    assert inputs['levels'] == real_levels.uuid
    assert outputs['summary'].creator.uuid == node.uuid == outputs['dephasing'].creator.uuid


def test_analyze_levels_window_and_parameters(real_levels):
    outputs, _ = run_get_node(
        analyze_levels, levels=real_levels, parameters=orm.Dict({'last_frames': 1000, 'max_lag_fs': 100.0})
    )
    summary = outputs['summary'].get_dict()
    assert summary['window']['start_row'] == 4000 and summary['window']['n_frames'] == 1000
    assert summary['window']['start_time_fs'] == 8000.0
    assert summary['gap_std_ev'] == pytest.approx(real_levels.get_array('gap')[4000:].std())
    assert outputs['dephasing'].get_array('time_fs')[-1] == 100.0
    assert 'warning' not in summary
    short, _ = run_get_node(analyze_levels, levels=real_levels, parameters=orm.Dict({'last_frames': 40}))
    assert 'stays above fit_floor' in short['summary']['warning'] and not short['summary']['dephasing_decayed']
    assert levels_analysis_parameters({}) == LEVELS_ANALYSIS_DEFAULTS
    with pytest.raises(QdotsInputError, match='unknown'):
        levels_analysis_parameters({'lag': 3})
    with pytest.raises(QdotsInputError, match='estimator'):
        levels_analysis_parameters({'estimator': 'other'})


def test_cli_analyze_levels_text_and_json(real_levels):
    result = invoke('analyze', 'levels', real_levels.pk)
    assert result.exit_code == 0, result.output
    assert result.output.startswith('analyze_levels: PK ')
    for label in ('HOMO', 'LUMO', 'gap'):
        assert re.search(rf'^{label}\s+mean\s+-?\d+\.\d+ eV\s+std \d+\.\d+ eV', result.output, re.M), result.output
    for name in CONVENTION_NAMES:
        assert re.search(rf'^\s+{name}\s+\d+\.\d+', result.output, re.M), result.output
    assert re.search(r'^  dephasing: (converged|NOT converged: )', result.output, re.M), result.output

    result = invoke('analyze', 'levels', real_levels.uuid, '--json')
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {
        'homo_std_ev',
        'lumo_std_ev',
        'gap_mean_ev',
        'gap_std_ev',
        'dephasing_fs',
        'convergence',
        'node_pks',
    }
    assert set(data['convergence']) == {'homo', 'lumo', 'gap', 'dephasing'}
    assert data['convergence']['gap']['n_samples'] == real_levels.get_shape('gap')[0]
    assert set(data['dephasing_fs']) == CONVENTION_NAMES
    gap = real_levels.get_array('gap')
    assert data['gap_mean_ev'] == pytest.approx(gap.mean()) and data['gap_std_ev'] == pytest.approx(gap.std())
    assert data['dephasing_fs']['gaussian_cumulant'] == pytest.approx(HBAR_EV_FS / gap.std(), rel=0.05)
    pks = data['node_pks']
    assert pks['levels'] == real_levels.pk
    calc = orm.load_node(pks['calcfunction'])
    assert calc.process_label == 'analyze_levels' and calc.is_finished_ok
    assert orm.load_node(pks['summary']).creator.pk == calc.pk == orm.load_node(pks['dephasing']).creator.pk


def test_cli_analyze_levels_errors(real_levels):
    other = orm.Int(3).store()
    for args, message in (
        ((other.pk,), 'not an ArrayData'),
        ((999_999_999,), 'no levels node'),
        ((real_levels.pk, '--last-frames', 20_000), 'more than the 5000 rows'),
        ((real_levels.pk, '--max-lag', 1e6), 'longer than the window'),
    ):
        result = CliRunner().invoke(cli, ['analyze', 'levels', *map(str, args)])
        assert result.exit_code != 0 and message in result.output, result.output
        assert 'Traceback' not in result.output
    with pytest.raises(QdotsInputError, match='homo'):
        load_levels(orm.ArrayData().store())


def test_levels_with_missing_rows_keep_statistics_and_dephasing(real_levels, shared_data_dir, tmp_path):
    """Issue 15, item 5: 1 % of the rows of the real Cl levels removed at random, imported through the CLI (time grid
    from the frame labels): every statistic and the dephasing time stay within 1 % of the full file's.
    """
    lines = (shared_data_dir / 'Cl_QD_elec_1-10k.csv').read_text().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    drop = set(np.random.default_rng(15).choice(len(rows), len(rows) // 100, replace=False).tolist())
    path = tmp_path / 'holes.csv'
    path.write_text(header + ''.join(row for k, row in enumerate(rows) if k not in drop))
    trajectory = orm.load_node(real_levels.base.attributes.get('trajectory_uuid'))
    result = invoke('import', 'levels', path, '--trajectory', trajectory.pk, '--stride', 2)
    assert result.exit_code == 0, result.output
    assert '50 frame(s) of the stride grid have no row' in result.output
    holed = orm.load_node(int(re.search(r'PK (\d+)', result.output).group(1)))
    assert holed.get_shape('gap') == (5000 - 50,) and holed.base.attributes.get('n_missing_frames') == 50
    np.testing.assert_array_equal(holed.get_array('time_fs'), np.delete(real_levels.get_array('time_fs'), list(drop)))

    full = run_get_node(analyze_levels, levels=real_levels, parameters=orm.Dict({}))[0]['summary'].get_dict()
    part = run_get_node(analyze_levels, levels=holed, parameters=orm.Dict({}))[0]['summary'].get_dict()
    assert part['window']['n_missing_frames'] == 50 and part['window']['duration_fs'] == full['window']['duration_fs']
    for name in ('homo', 'lumo', 'gap'):
        for key in ('mean_ev', 'std_ev'):
            assert part[f'{name}_{key}'] == pytest.approx(full[f'{name}_{key}'], rel=0.01)
    for name in ('gaussian_cumulant', 'pyxaid_gaussian', 'one_over_e'):
        assert part['dephasing_fs'][name] == pytest.approx(full['dephasing_fs'][name], rel=0.01)
    assert part['n_interpolated_lags'] == 0 and part['n_fit_points'] == full['n_fit_points']
    assert part['gap_decorrelation_fs'] == pytest.approx(full['gap_decorrelation_fs'], rel=0.05)
    assert part['convergence']['dephasing']['converged'] == full['convergence']['dephasing']['converged']
