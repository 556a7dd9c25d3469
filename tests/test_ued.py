"""UED data import (validation), the qdots.ued workchain on the synthetic demo set, its CLI and figure."""

import json

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from click.testing import CliRunner

from aiida_qdots.cli import cli
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.filing import file_stage
from aiida_qdots.data.ued import COLUMNS, DEMO_SLOPE_A2_PER_K, import_ued, synthetic_table, synthetic_ued_node
from aiida_qdots.plots.ued import plot_ued
from aiida_qdots.query import ued_table
from aiida_qdots.workchains.ued import UedWorkChain

GOOD = [
    (2.1, 400, 0.0, '100', 1.687, 1.0, 1e-3),
    (2.1, 400, 0.0, '002', 1.793, 1.0, 1e-3),
    (2.1, 400, 10.0, '100', 1.687, 0.99, 1e-3),
    (2.1, 400, 10.0, '002', 1.793, 0.98, 1e-3),
]

GRID = [
    (2.1, 400, delay, peak, q, ratio, 1e-3)
    for delay, ratios in ((0.0, (1.0, 1.0, 1.0)), (10.0, (0.99, 0.98, 0.97)), (20.0, (0.98, 0.97, 0.96)))
    for (peak, q), ratio in zip((('100', 1.687), ('002', 1.793), ('101', 1.912)), ratios, strict=True)
]
"""The smallest set `launch ued` can fit: 3 delays x 3 peaks."""


def write_csv(path, rows, columns=COLUMNS):
    path.write_text(','.join(columns) + '\n' + '\n'.join(','.join(map(str, row)) for row in rows) + '\n')
    return path


def test_import_ued_csv_and_json(aiida_profile, tmp_path):
    node = import_ued(write_csv(tmp_path / 'ued.csv', GRID))
    assert node.get_array('intensity_ratio').shape == (1, 3, 3)
    np.testing.assert_allclose(node.get_array('intensity_ratio')[0, 1], [0.99, 0.98, 0.97])
    assert node.base.attributes.get('peaks') == ['100', '002', '101'] and node.base.attributes.get('synthetic') is False
    assert len(node.base.attributes.get('source')['sha256']) == 64
    records = [dict(zip(COLUMNS, row, strict=True)) for row in GRID]
    as_json = (
        import_ued(tmp_path.joinpath('ued.json'), label='json')
        if tmp_path.joinpath('ued.json').write_text(json.dumps(records))
        else None
    )
    np.testing.assert_array_equal(as_json.get_array('intensity_ratio'), node.get_array('intensity_ratio'))


@pytest.mark.parametrize(
    'rows, columns, message',
    [
        (GOOD, COLUMNS[:-1], 'missing column.s. intensity_ratio_err'),
        ([*GOOD[:3], (2.1, 400, 10.0, '002', 1.793, 'nan', 1e-3)], COLUMNS, "row 4, column 'intensity_ratio': not a"),
        ([*GOOD[:3], (2.1, 400, 10.0, '002', 1.793, -0.5, 1e-3)], COLUMNS, "row 4, column 'intensity_ratio': must be"),
        ([*GOOD[:2], (2.1, 400, -5.0, '100', 1.687, 0.99, 1e-3), GOOD[3]], COLUMNS, "row 3, column 'delay_ps': delays"),
        ([*GOOD, GOOD[3]], COLUMNS, r"row 5, column 'delay_ps': duplicate"),
        ([*GOOD[:3], (2.1, 400, 10.0, '002', 1.9, 0.98, 1e-3)], COLUMNS, 'peak 002 has more than one Q'),
        (GOOD[:3], COLUMNS, 'no row for fluence 2.1 mJ/cm.2, 400.0 nm, delay 10.0 ps, peak 002'),
    ],
)
def test_bad_ued_files_are_rejected_naming_row_and_column(aiida_profile, tmp_path, rows, columns, message):
    before = orm.QueryBuilder().append(orm.Node).count()
    with pytest.raises(QdotsInputError, match=message):
        import_ued(write_csv(tmp_path / 'bad.csv', rows, columns))
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_ued_workchain_recovers_the_synthetic_parameters(aiida_profile, tmp_path):
    """The demo set (tau_AR 625 ps; 340 nm with 4 ps trapping) through DW -> dT -> fit: truth inside the CIs."""
    data = synthetic_ued_node()
    assert data.base.attributes.get('synthetic')['sets'][0]['tau_auger_ps'] == 625.0
    slope = orm.Dict({'slope_A2_per_K': DEMO_SLOPE_A2_PER_K, 'slope_stderr_A2_per_K': 0.0})
    _, node = run_get_node(UedWorkChain.get_builder_from_protocol(data, slope, 'fast'))
    assert node.is_finished_ok, node.exit_message
    dw = node.outputs.debye_waller
    flagged = dw.get_array('flagged')  # pure heating: Q^4 false alarms only at the test's rate alpha = 0.01
    assert flagged.sum() <= 4, f'{flagged.sum()} of {flagged.size} delays flagged'
    no_trap, trap = node.outputs.fit['sets']
    assert no_trap['wavelength_nm'] == 400.0 and trap['trapping']
    low, high = no_trap['ci']['tau_auger_ps']
    assert low < 625.0 < high and high / low < 2.0
    low, high = trap['ci']['tau_trap_ps']
    assert low < 4.0 < high
    assert no_trap['plateau_k'] == pytest.approx(13.0, abs=1.5)
    for entry in (no_trap, trap):
        assert abs(entry['ssa_check']['z_final_energy']) < 4 and entry['chi2_reduced'] < 2.0
    assert node.outputs.lattice_temperature.creator.inputs.msd_slope.uuid == slope.uuid  # provenance of the slope
    file_stage(node, 'ued-table', 'ued', 'synthetic', 'ued', {'protocol': 'fast', 'msd_slope_from': 'user'})
    rows = ued_table('ued-table').set_index('wavelength_nm')  # the 340 nm row says that tau_AR was held fixed
    assert rows.loc[400.0, 'tau_auger_fitted'] and not rows.loc[340.0, 'tau_auger_fitted']
    assert rows.loc[340.0, 'tau_auger_ci_ps'] is None
    assert rows.loc[340.0, 'tau_auger_ps'] == no_trap['values']['tau_auger_ps']
    path = plot_ued(node, tmp_path / 'ued.png')
    assert path.read_bytes()[:4] == b'\x89PNG'


def test_ued_cli_import_launch_and_errors(aiida_profile, tmp_path):
    runner = CliRunner()
    table, _ = synthetic_table(n_trajectories=2000)
    table.to_csv(tmp_path / 'demo.csv', index=False)
    result = runner.invoke(cli, ['import', 'ued', str(tmp_path / 'demo.csv')])
    assert result.exit_code == 0, result.output
    pk = result.output.split('PK ')[1].split()[0]
    result = runner.invoke(cli, ['launch', 'ued', '--data', pk])
    assert result.exit_code != 0 and 'give either --phonons PK or --slope VALUE' in result.output
    result = runner.invoke(cli, ['launch', 'ued', '--data', pk, '--phonons', pk])
    assert result.exit_code != 0 and 'neither a qdots.phonons workchain nor an msd_slope Dict' in result.output
    result = runner.invoke(cli, ['import', 'ued'])
    assert result.exit_code != 0 and 'give either a PATH or --synthetic' in result.output
    write_csv(tmp_path / 'bad.csv', GOOD, COLUMNS[:-1])
    result = runner.invoke(cli, ['import', 'ued', str(tmp_path / 'bad.csv')])
    assert result.exit_code != 0 and 'missing column(s) intensity_ratio_err' in result.output
