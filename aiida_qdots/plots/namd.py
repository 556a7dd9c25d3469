"""Study A, electronic-structure and NAMD figures from stored nodes, one curve per configuration.

* :func:`levels_figure` (the seed's Fig. 3a): HOMO and LUMO energies relative to their means against time, with
  their distributions and standard deviations;
* :func:`gap_figure` (Fig. 4): distribution of the HOMO-LUMO gap with a normal curve of the same mean and std;
* :func:`namd_figure` (Fig. 5a-c): (a) pure-dephasing function D(t) with the paper's Gaussian fit, (b) DISH
  excited-state population with its exp(-t/tau) fit, (c) histogram of the HOMO-LUMO NAC hbar|d| (meV).

Every legend entry carries the convergence verdict of its number (:mod:`aiida_qdots.analysis.convergence`):
for levels it is computed from the plotted series, for NAMD read from the stored summary.

Levels come from a ``qdots.electronic`` workchain (output ``levels``), imported levels, or the outputs of
``analyze levels``; NAMD data from a ``qdots.namd`` workchain, its ``arrays`` / ``summary`` outputs or a
``qdots.dish`` job. Curves are labelled from the ``qdots`` extras (composition, configuration) when present.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import numpy as np
from aiida import orm
from matplotlib.figure import Figure

from aiida_qdots.analysis.convergence import level_verdict, verdict_tag
from aiida_qdots.analysis.dephasing import PAPER_CONVENTION
from aiida_qdots.analysis.electronic import sampling_grid
from aiida_qdots.analysis.nac import nac_energy
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.plots.common import output_path

NAMD_ARRAYS = ('excited_population', 'fitted_population', 'nac_homo_lumo_per_fs', 'dephasing_function')


def _outputs_of(node: orm.Node) -> dict[str, orm.Node]:
    """Outputs of ``node`` if it is a process, else of the process that created it (empty if none)."""
    process = node if isinstance(node, orm.ProcessNode) else node.creator
    if process is None:
        return {}
    return {link.link_label: link.node for link in process.base.links.get_outgoing().all()}


def configuration_label(node: orm.Node) -> str:
    """``<composition> #<index>`` (or ``<composition> <configuration name>``) from the ``qdots`` extras of the node
    or its creator, else its label/PK."""
    for candidate in (node, node.creator if not isinstance(node, orm.ProcessNode) else None):
        extras = candidate.base.extras.get('qdots', {}) if candidate is not None else {}
        if 'composition' in extras:
            configuration = extras.get('configuration')  # ranking index, or a study's configuration name
            if configuration is None:
                return extras['composition']
            return f'{extras["composition"]} ' + (
                f'#{configuration}' if isinstance(configuration, int) else configuration
            )
    return node.label or f'PK {node.pk}'


def levels_node(node: orm.Node) -> orm.ArrayData:
    """The per-frame levels (arrays ``homo``, ``lumo``; eV) behind ``node``: a ``qdots.electronic`` workchain, the
    levels themselves, or an output of ``analyze levels`` (whose input they are).
    """
    if isinstance(node, orm.ArrayData) and {'homo', 'lumo'} <= set(node.get_arraynames()):
        return node
    if isinstance(node, orm.WorkflowNode) and 'levels' in node.outputs:
        return node.outputs.levels
    creator = node.creator if not isinstance(node, orm.ProcessNode) else None
    if creator is not None and 'levels' in creator.inputs:
        return creator.inputs.levels
    raise QdotsInputError(
        f'node {node.pk} ({type(node).__name__}) has no per-frame HOMO/LUMO levels: give a '
        'qdots.electronic workchain, imported levels or an analyze-levels output'
    )


def namd_arrays(node: orm.Node) -> orm.ArrayData:
    """The ``arrays`` output of a NAMD recombination analysis, given the ``qdots.namd`` workchain, a ``qdots.dish``
    job, or its ``arrays`` / ``summary`` output.
    """
    if isinstance(node, orm.ArrayData) and 'excited_population' in node.get_arraynames():
        found = node
    else:
        found = _outputs_of(node).get('arrays')
    if found is None:
        raise QdotsInputError(f'node {node.pk} ({type(node).__name__}) is not a qdots.namd / qdots.dish result')
    missing = [name for name in NAMD_ARRAYS if name not in found.get_arraynames()]
    if missing:
        raise QdotsInputError(f'NAMD arrays <{found.pk}> lack {", ".join(missing)} (made by an older aiida-qdots)')
    return found


def _time_axis(levels: orm.ArrayData) -> tuple[np.ndarray, str]:
    if 'time_fs' in levels.get_arraynames():
        return levels.get_array('time_fs') / 1000.0, 'time (ps)'
    return np.arange(len(levels.get_array('homo'))), 'frame'


def _level_tag(levels: orm.ArrayData, values: np.ndarray) -> str:
    """The verdict tag of a level series, on the grid of its frame indices when the levels have them."""
    names = levels.get_arraynames()
    positions = sampling_grid(levels.get_array('frame_index'))[1] if 'frame_index' in names else None
    return verdict_tag(level_verdict('level', values, positions).as_dict())


def levels_figure(nodes: Sequence[orm.Node]) -> Figure:
    """Fig. 3a: HOMO (solid) and LUMO (dashed) minus their means against time, and their distributions."""
    figure = Figure(figsize=(9.0, 4.2), layout='constrained')
    series, histogram = figure.subplots(1, 2, width_ratios=(3, 1), sharey=True)
    for k, node in enumerate(nodes):
        levels = levels_node(node)
        time, xlabel = _time_axis(levels)
        label = configuration_label(node)
        for name, style in (('homo', '-'), ('lumo', '--')):
            values = levels.get_array(name)
            shifted = values - values.mean()
            series.plot(
                time,
                shifted,
                style,
                color=f'C{k}',
                linewidth=0.9,
                label=f'{label} {name.upper()} (std {values.std() * 1000:.0f} meV; {_level_tag(levels, values)})',
            )
            histogram.hist(
                shifted,
                bins=30,
                orientation='horizontal',
                histtype='step',
                linestyle=style,
                color=f'C{k}',
                density=True,
            )
    series.set_xlabel(xlabel)
    series.set_ylabel('E - <E> (eV)')
    series.legend(fontsize=8)
    series.set_title('HOMO and LUMO fluctuations', fontsize=10)
    histogram.set_xlabel('density (1/eV)')
    return figure


def gap_figure(nodes: Sequence[orm.Node]) -> Figure:
    """Fig. 4: distribution of the HOMO-LUMO gap of each configuration, with a normal curve of its mean and std."""
    figure = Figure(figsize=(6.0, 4.2), layout='constrained')
    axes = figure.subplots()
    for k, node in enumerate(nodes):
        levels = levels_node(node)
        gap = (
            levels.get_array('gap')
            if 'gap' in levels.get_arraynames()
            else (levels.get_array('lumo') - levels.get_array('homo'))
        )
        mean, std = gap.mean(), gap.std()
        axes.hist(
            gap,
            bins=30,
            density=True,
            alpha=0.35,
            color=f'C{k}',
            label=f'{configuration_label(node)}: {mean:.3f} +- {std:.3f} eV ({_level_tag(levels, gap)})',
        )
        grid = np.linspace(gap.min(), gap.max(), 200)
        axes.plot(grid, np.exp(-0.5 * ((grid - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi)), color=f'C{k}')
    axes.set_xlabel('HOMO-LUMO gap (eV)')
    axes.set_ylabel('density (1/eV)')
    axes.legend(fontsize=8)
    return figure


def namd_figure(nodes: Sequence[orm.Node]) -> Figure:
    """Fig. 5a-c: dephasing function with Gaussian fit, DISH excited population with fit, and NAC histogram."""
    figure = Figure(figsize=(12.0, 4.0), layout='constrained')
    dephasing, population, histogram = figure.subplots(1, 3)
    fit_name = f'dephasing_fit_{PAPER_CONVENTION}'
    for k, node in enumerate(nodes):
        arrays = namd_arrays(node)
        summary = _outputs_of(arrays).get('summary')
        verdicts = summary.get('convergence', {}) if summary is not None else {}
        label = configuration_label(node)
        time = arrays.get_array('dephasing_time_fs')
        dephasing.plot(time, arrays.get_array('dephasing_function'), color=f'C{k}', label=label)
        if fit_name in arrays.get_arraynames():
            tau = summary['dephasing_fs'].get(PAPER_CONVENTION) if summary is not None else None
            dephasing.plot(
                time,
                arrays.get_array(fit_name),
                '--',
                color=f'C{k}',
                label=(f'Gaussian fit, tau = {tau:.1f} fs' if tau else 'Gaussian fit')
                + f' ({verdict_tag(verdicts.get("dephasing"))})',
            )
        t_ns = arrays.get_array('population_time_fs') * 1e-6
        population.plot(t_ns, arrays.get_array('excited_population'), color=f'C{k}', label=label)
        tau_ns = summary['recombination_tau_ns'] if summary is not None else None
        ci = summary['recombination_ci_ns'] if summary is not None else None
        bound = summary.get('recombination_lower_bound_ns') if summary is not None else None
        fit_label = 'exp(-t/tau) fit' + (f', tau = {tau_ns:.3g} ns' if tau_ns is not None else ' (no hop in the run)')
        if tau_ns is not None and ci is not None and None not in ci:
            fit_label += f' [{ci[0]:.3g}, {ci[1]:.3g}]'
        if bound is not None:
            fit_label += f': tau >= {bound:.3g} ns ({summary["lower_bound_confidence"]:.0%})'
        fit_label += f' ({verdict_tag(verdicts.get("recombination"))})'
        population.plot(t_ns, arrays.get_array('fitted_population'), '--', color=f'C{k}', label=fit_label)
        coupling = nac_energy(arrays.get_array('nac_homo_lumo_per_fs'), unit='mev')
        histogram.hist(
            coupling,
            bins=30,
            histtype='step',
            color=f'C{k}',
            density=True,
            label=f'{label}: mean {coupling.mean():.3f} meV ({verdict_tag(verdicts.get("nac"))})',
        )
    dephasing.set(xlabel='time (fs)', ylabel='D(t)', title='(a) pure dephasing of the gap')
    population.set(xlabel='time (ns)', ylabel='excited-state population', title='(b) DISH recombination')
    histogram.set(xlabel='hbar |d_HOMO,LUMO| (meV)', ylabel='density (1/meV)', title='(c) NAC distribution')
    for axes in (dephasing, population, histogram):
        axes.legend(fontsize=7)
    return figure


FIGURES = {'levels': levels_figure, 'gap': gap_figure, 'namd': namd_figure}


def plot_figure(
    kind: str, nodes: Sequence[orm.Node], output: str | pathlib.Path | None = None, dpi: int = 150
) -> pathlib.Path:
    """Write the ``kind`` figure (``levels``, ``gap`` or ``namd``) of ``nodes`` as PNG; returns the path
    (default ``<kind>_<pk of the first node>.png`` in the working directory).
    """
    if kind not in FIGURES:
        raise QdotsInputError(f'unknown figure {kind!r}; known: {", ".join(FIGURES)}')
    if not nodes:
        raise QdotsInputError('give at least one node')
    path = output_path(output, kind, nodes[0])
    FIGURES[kind](nodes).savefig(path, dpi=dpi)
    return path
