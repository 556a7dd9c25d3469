"""Study A figures (seed Fig. 3a, 4) from the real imported HOMO/LUMO labels, and their CLI."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from click.testing import CliRunner

from aiida_qdots.cli import cli
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.functions.levels import analyze_levels
from aiida_qdots.plots.namd import configuration_label, gap_figure, levels_figure, levels_node, namd_arrays


def test_levels_figure_plots_the_stored_levels(real_levels):
    real_levels.base.extras.set('qdots', {'composition': 'cd-rich', 'configuration': 0})
    figure = levels_figure([real_levels])
    series = figure.axes[0]
    homo_line, lumo_line = series.get_lines()[:2]
    homo = real_levels.get_array('homo')
    np.testing.assert_allclose(homo_line.get_ydata(), homo - homo.mean())
    np.testing.assert_allclose(homo_line.get_xdata(), real_levels.get_array('time_fs') / 1000.0)
    lumo = real_levels.get_array('lumo')
    np.testing.assert_allclose(lumo_line.get_ydata(), lumo - lumo.mean())
    assert f'std {homo.std() * 1000:.0f} meV' in homo_line.get_label() and 'cd-rich #0' in homo_line.get_label()


def test_gap_figure_and_node_resolution(real_levels):
    outputs, _ = run_get_node(analyze_levels, levels=real_levels, parameters=orm.Dict({}))
    assert levels_node(outputs['summary']).uuid == real_levels.uuid  # an analysis output leads back to its levels
    figure = gap_figure([outputs['summary']])
    gap = real_levels.get_array('gap')
    (legend_text,) = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    assert f'{gap.mean():.3f} +- {gap.std():.3f} eV' in legend_text
    with pytest.raises(QdotsInputError, match='not a qdots'):
        namd_arrays(real_levels)
    assert configuration_label(orm.Int(1).store()).startswith('PK ')


def test_cli_plot_levels_gap_and_errors(real_levels, tmp_path):
    runner = CliRunner()
    for kind in ('levels', 'gap'):
        path = tmp_path / f'{kind}.png'
        result = runner.invoke(cli, ['plot', kind, str(real_levels.pk), '-o', str(path)])
        assert result.exit_code == 0, result.output
        assert path.read_bytes()[:4] == b'\x89PNG'
    result = runner.invoke(cli, ['plot', 'namd', str(real_levels.pk), '-o', str(tmp_path / 'x.png')])
    assert result.exit_code != 0 and 'is not a qdots.namd / qdots.dish result' in result.output
    result = runner.invoke(cli, ['plot', 'levels', str(real_levels.pk), '-o', str(tmp_path / 'x.pdf')])
    assert result.exit_code != 0 and 'give a .png file name' in result.output
