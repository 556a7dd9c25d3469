"""UED data import (validation), the qdots.ued workchain on the synthetic demo set, its CLI and figure."""

import json
import re

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from click.testing import CliRunner

from aiida_qdots.analysis.kinetics_model import mean_initial_pairs
from aiida_qdots.cli import cli
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.data.ued import COLUMNS, SEED_MODEL, SEED_SETS, SIGMA_REL_ERR, import_ued, synthetic_table
from aiida_qdots.functions.ued import MODEL_KEYS, synthetic_ued
from aiida_qdots.plots.ued import plot_ued, ued_figure
from aiida_qdots.protocols import load_protocol_file
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


def test_protocol_model_is_the_seed_model():
    """The protocol's fixed parameters are those the synthetic set is made with (its starting values differ)."""
    model = load_protocol_file('ued.yaml')['default_inputs']['model']
    starts = {'tau_auger_ps', 'tau_trap_ps', 'wavelength_nm', 'sigma_cm2'}
    for key in set(MODEL_KEYS) - starts:
        assert model.get(key, getattr(SEED_MODEL, key)) == getattr(SEED_MODEL, key), key
    for pump in SEED_SETS:
        fixed = model['by_wavelength_nm'][f'{pump.model.wavelength_nm:g}']
        assert fixed['sigma_cm2'] == pytest.approx(pump.model.sigma_cm2, rel=1e-12)
        assert fixed.get('tau_cool_ps', model['tau_cool_ps']) == pump.model.tau_cool_ps
    assert model['sigma_rel_err'] == SIGMA_REL_ERR


def test_ued_workchain_recovers_the_synthetic_parameters(aiida_profile, tmp_path):
    """The seed's conditions (tau_AR 625 ps, tau_trap 5 ps; 510 and 340 nm at <N> = 21) through DW -> dT -> joint
    fit with <N> fixed by the cross-sections: truth inside the CIs; one slope makes the set and calibrates it."""
    slope = orm.Dict({'slope_A2_per_K': 9.7e-5, 'slope_stderr_A2_per_K': 2e-6, 'source': 'test value'})
    data = synthetic_ued(slope)
    generator = data.base.attributes.get('synthetic')
    assert [s['wavelength_nm'] for s in generator['sets']] == [510.0, 340.0]
    assert generator['sets'][0]['tau_auger_ps'] == 625.0 and generator['sets'][1]['tau_trap_ps'] == 5.0
    assert generator['sets'][0]['n_atoms'] == SEED_MODEL.n_atoms and generator['slope_a2_per_k'] == 9.7e-5
    _, node = run_get_node(UedWorkChain.get_builder_from_protocol(data, slope, 'fast'))
    assert node.is_finished_ok, node.exit_message
    dw = node.outputs.debye_waller
    flagged = dw.get_array('flagged')  # pure heating: Q^4 false alarms only at the test's rate alpha = 0.01
    assert flagged.sum() <= 4, f'{flagged.sum()} of {flagged.size} delays flagged'
    fit = node.outputs.fit
    assert fit['free'] == ['tau_auger_ps', 'tau_trap_ps'] and 0.5 < fit['chi2_reduced'] < 2.0
    assert fit['slope_rel_err'] == pytest.approx(2e-6 / 9.7e-5)  # a common factor, out of the per-delay errors
    for name, truth in (('tau_auger_ps', 625.0), ('tau_trap_ps', 5.0)):
        low, high = fit['ci_statistical'][name]
        assert low < truth < high, (name, fit['values'][name], fit['ci_statistical'][name])
        assert fit['ci'][name][0] <= low and high <= fit['ci'][name][1]
    red, blue = fit['sets']
    assert red['wavelength_nm'] == 510.0 and not red['hot_holes_trap'] and red['auger_holes_trap']
    assert blue['hot_holes_trap'] and blue['mean_initial_pairs'] == pytest.approx(red['mean_initial_pairs'])
    for entry in (red, blue):
        assert abs(entry['ssa_check']['z_final_energy']) < 4
    temperature = node.outputs.lattice_temperature
    assert temperature.creator.inputs.msd_slope.uuid == slope.uuid == data.creator.inputs.msd_slope.uuid
    path = plot_ued(node, tmp_path / 'ued.png')
    assert path.read_bytes()[:4] == b'\x89PNG'
    axes = ued_figure(node).axes  # one row of three panels per pump set; dT(t) data and fit in the third
    assert len(axes) == 3 * len(generator['sets'])
    curves = node.outputs.fit_curves
    for s, title in enumerate(('510 nm', '340 nm')):
        assert axes[3 * s].get_title().startswith(title)
        measured = [c for c in axes[3 * s + 2].containers if hasattr(c, 'has_yerr') and c.has_yerr]
        assert len(measured) == 1
        np.testing.assert_array_equal(measured[0].lines[0].get_ydata(), temperature.get_array('delta_t_k')[s])
        model = [line for line in axes[3 * s + 2].get_lines() if line.get_label().startswith('model')]
        assert len(model) == 1
        np.testing.assert_array_equal(model[0].get_ydata(), curves.get_array(f'delta_t_k_{s}'))


def test_a_bragg_slope_that_is_not_positive_ends_with_its_exit_code(aiida_profile):
    """MD runs that did not heat can give the Bragg-peak route a negative slope (measured on a 352-atom core/shell
    particle that annealed in NVE): the route divides by it, so the workchain ends with 453 and the reason."""
    slope = orm.Dict({'slope_A2_per_K': 9.7e-5, 'slope_stderr_A2_per_K': 2e-6, 'source': 'test value'})
    data = synthetic_ued(slope)
    negative = orm.Dict(
        {**slope.get_dict(), 'by_weighting': {'bragg_peaks': {'slope_A2_per_K': -5e-5, 'slope_stderr_A2_per_K': 8e-5}}}
    )
    _, node = run_get_node(UedWorkChain.get_builder_from_protocol(data, negative, 'fast'))
    assert node.exit_status == UedWorkChain.exit_codes.ERROR_LATTICE_TEMPERATURE.status == 453
    assert 'd<u^2>/dT must be positive, got -5e-05' in node.exit_message


def test_ued_cli_import_launch_and_errors(aiida_profile, tmp_path):
    runner = CliRunner()
    table, _ = synthetic_table(1e-4, n_trajectories=2000)
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
    result = runner.invoke(cli, ['import', 'ued', '--synthetic'])
    assert result.exit_code != 0 and 'give either --phonons PK or --slope VALUE' in result.output
    result = runner.invoke(cli, ['import', 'ued', '--synthetic', '--slope', '1e-4', '--slope-err', '1e-6'])
    assert result.exit_code == 0, result.output
    synthetic = orm.load_node(int(result.output.split('PK ')[1].split()[0]))
    assert synthetic.creator.inputs.msd_slope['slope_A2_per_K'] == 1e-4
    from aiida_qdots.cli.launch import msd_slope_node

    assert msd_slope_node(None, None, 0.0, synthetic).uuid == synthetic.creator.inputs.msd_slope.uuid
    write_csv(tmp_path / 'bad.csv', GOOD, COLUMNS[:-1])
    result = runner.invoke(cli, ['import', 'ued', str(tmp_path / 'bad.csv')])
    assert result.exit_code != 0 and 'missing column(s) intensity_ratio_err' in result.output


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        ({'trapping_wavelengths_nm': [340.0]}, 'unknown model parameter.s. trapping_wavelengths_nm'),
        ({'free': ['tau_auger_ps', 'sigma_cm2']}, r'<N> stays fixed by sigma'),
        ({'sigma_rel_err': -0.1}, 'sigma_rel_err must be a non-negative number'),
        ({'trap_barrier_ev': -1.0}, 'invalid kinetic model: trap_barrier_ev must be non-negative'),
    ],
)
def test_bad_models_are_rejected_with_their_reason(aiida_profile, change, message):
    from aiida_qdots.functions.ued import validate_model

    model = load_protocol_file('ued.yaml')['default_inputs']['model']
    assert validate_model(orm.Dict(model)) is None
    assert re.search(message, validate_model(orm.Dict({**model, **change})))


def test_a_pump_wavelength_without_a_cross_section_is_refused_until_the_user_gives_one(
    aiida_profile, tmp_path, monkeypatch
):
    """A valid set pumped at 400 nm, where the protocol's model has no cross-section: ``launch ued`` refuses it in
    one line naming the file, the set, the wavelength and the rule, storing nothing; given the cross-section with
    ``--overrides``, the same command hands ``launch_process`` a builder whose model fixes that set's <N> by it."""
    from profile_state import node_count

    from aiida_qdots.functions.ued import pump_models

    pk = str(import_ued(write_csv(tmp_path / 'pump400.csv', GRID)).pk)
    runner, before = CliRunner(), node_count()
    result = runner.invoke(cli, ['launch', 'ued', '--data', pk, '--slope', '1e-4'])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert result.output.count('\n') == 1 and '(pump400.csv), set 0 (400 nm, 2.1 mJ/cm^2)' in result.output
    assert 'no absorption cross-section for 400 nm (only for 340, 510 nm)' in result.output
    assert result.output.rstrip().endswith('[rule: model]') and node_count() == before
    launched = []
    monkeypatch.setattr('aiida_qdots.cli.launch.launch_process', lambda builder, *_: launched.append(builder))
    given = {'model': {'by_wavelength_nm': {'400': {'sigma_cm2': 2.0e-14, 'sigma_rel_err': 0.3}}}}
    result = runner.invoke(cli, ['launch', 'ued', '--data', pk, '--slope', '1e-4', '--overrides', json.dumps(given)])
    assert result.exit_code == 0, result.output
    model = launched[0].model.get_dict()
    assert (
        model['by_wavelength_nm']['510']
        == load_protocol_file('ued.yaml')['default_inputs']['model']['by_wavelength_nm']['510']
    )  # the protocol's pumps are kept
    (fixed,), (error,) = pump_models(model, orm.load_node(int(pk)).base.attributes.get('sets'))
    assert fixed.sigma_cm2 == 2.0e-14 and error == 0.3
    assert fixed.mean_pairs(2.1) == pytest.approx(mean_initial_pairs(2.0e-14, 2.1, 400.0))


def test_a_pump_without_a_cross_section_is_named():
    from aiida_qdots.functions.ued import pump_models

    model = load_protocol_file('ued.yaml')['default_inputs']['model']
    models, errors = pump_models(model, [{'wavelength_nm': 510.0, 'fluence_mj_cm2': 2.1}])
    assert models[0].sigma_cm2 == SEED_MODEL.sigma_cm2 and errors == [SIGMA_REL_ERR]
    with pytest.raises(
        ValueError,
        match=re.escape(
            "no absorption cross-section for 400 nm: give sigma_cm2 in the model or in by_wavelength_nm['400']"
        ),
    ):
        pump_models(model, [{'wavelength_nm': 400.0, 'fluence_mj_cm2': 2.1}])
