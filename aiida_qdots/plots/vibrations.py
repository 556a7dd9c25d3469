"""Study A vibration figures from ``qdots.vibrations`` workchains: broadened Raman spectra of several clusters (the
seed's Fig. 2b), the displacement arrows of the mode nearest the main optical peak (Fig. 2c), and the Raman spectrum
above the AIMD power spectrum of the same cluster with their peaks paired."""

from __future__ import annotations

import pathlib

import numpy as np
from aiida import orm
from matplotlib.figure import Figure
from matplotlib.patches import ConnectionPatch

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.functions.vibrations import raman_aimd_table
from aiida_qdots.plots.aimd import analysis_nodes
from aiida_qdots.plots.common import element_colour, output_path


def _vibrations(node: orm.Node) -> orm.WorkflowNode:
    """The qdots.vibrations workchain of ``node`` (the workchain or one of its outputs)."""
    if isinstance(node, orm.WorkflowNode) and 'spectrum' in node.outputs:
        return node
    creator = node.base.links.get_incoming(node_class=orm.WorkflowNode).all()
    for link in creator:
        if 'spectrum' in link.node.outputs:
            return link.node
    raise QdotsInputError(f'{node.__class__.__name__}<{node.pk}> is not a qdots.vibrations workchain or its output')


def _label(workchain: orm.WorkflowNode) -> str:
    return workchain.outputs.modes.base.attributes.get('formula', None) or workchain.label or f'<{workchain.pk}>'


def raman_figure(nodes: list[orm.Node], max_cm1: float = 400.0) -> Figure:
    """Broadened Raman spectra (normalised to their maximum below ``max_cm1``) with the main optical peak marked."""
    figure = Figure(figsize=(5.5, 3.8), layout='constrained')
    ax = figure.subplots()
    for index, node in enumerate(nodes):
        workchain = _vibrations(node)
        spectrum, summary = workchain.outputs.spectrum, workchain.outputs.summary.get_dict()
        grid, raman = spectrum.get_array('wavenumbers'), spectrum.get_array('raman')
        keep = grid <= max_cm1
        (line,) = ax.plot(grid[keep], raman[keep] / raman[keep].max() + 1.1 * index, label=_label(workchain))
        peak = summary.get('raman_peak_cm1')
        if peak is not None:
            ax.axvline(peak, color=line.get_color(), ls=':', lw=1)
            ax.annotate(f'{peak:.0f}', (peak, 1.1 * index + 1.0), color=line.get_color(), fontsize=8)
    hwhm = workchain.outputs.spectrum.base.attributes.get('hwhm_cm1')
    ax.set(xlabel='wavenumber (cm$^{-1}$)', ylabel='Raman activity (normalised, offset)', yticks=[])
    ax.set_title(f'off-resonant Raman, Gaussian HWHM {hwhm:g} cm$^{{-1}}$')
    ax.legend(frameon=False)
    return figure


def mode_figure(node: orm.Node, mode: int | None = None) -> Figure:
    """Displacement arrows of ``mode`` (default: the mode nearest the main optical peak) projected on the two
    principal axes of largest extent, atoms coloured by element."""
    workchain = _vibrations(node)
    modes, summary = workchain.outputs.modes, workchain.outputs.summary.get_dict()
    if mode is None:
        if not summary.get('peak_modes'):
            raise QdotsInputError(f'qdots.vibrations<{workchain.pk}> has no main optical peak; give a mode index')
        mode = summary['peak_modes'][0]['index']
    positions, symbols = modes.get_array('positions'), modes.base.attributes.get('symbols')
    pattern = (modes.get_array('eigenvectors')[:, mode] / np.repeat(np.sqrt(modes.get_array('masses')), 3)).reshape(
        -1, 3
    )
    centred = positions - positions.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    xy, arrows = centred @ axes[:2].T, pattern @ axes[:2].T
    arrows *= 1.5 / np.linalg.norm(arrows, axis=1).max()
    figure = Figure(figsize=(4.8, 4.6), layout='constrained')
    ax = figure.subplots()
    for index, element in enumerate(dict.fromkeys(symbols)):
        mask = np.array(symbols) == element
        ax.scatter(
            *xy[mask].T, s=60 if element in ('Cd', 'Se') else 25, color=element_colour(element, index), label=element
        )
    ax.quiver(*xy.T, *arrows.T, angles='xy', scale_units='xy', scale=1, width=0.004, color='k')
    wavenumber = modes.get_array('wavenumbers')[mode]
    ax.set(aspect='equal', xticks=[], yticks=[], title=f'mode {mode}: {wavenumber:.1f} cm$^{{-1}}$')
    ax.legend(frameon=False, loc='upper right', fontsize=8)
    return figure


def plot_raman(nodes, output: str | pathlib.Path | None = None, max_cm1: float | None = None) -> pathlib.Path:
    """Write :func:`raman_figure` of ``nodes`` as PNG; returns the path."""
    nodes = list(nodes) if isinstance(nodes, list | tuple) else [nodes]
    path = output_path(output, 'raman', nodes[0])
    raman_figure(nodes, max_cm1 or 400.0).savefig(path, dpi=150)
    return path


def plot_mode(node, output: str | pathlib.Path | None = None) -> pathlib.Path:
    """Write :func:`mode_figure` of ``node`` as PNG; returns the path."""
    path = output_path(output, 'raman_mode', node)
    mode_figure(node).savefig(path, dpi=150)
    return path


def raman_aimd_figure(vibrations: orm.Node, aimd: orm.Node, parameters: dict | None = None) -> tuple[Figure, dict]:
    """The broadened Raman spectrum (sticks in grey) above the AIMD power spectrum of the same cluster, over the
    comparison window, with their peaks marked: paired peaks joined and labelled, unpaired ones as open markers.
    Returns the figure and the table of :func:`~aiida_qdots.functions.vibrations.raman_aimd_table`."""
    workchain = _vibrations(vibrations)
    nodes = analysis_nodes(aimd)
    if 'spectra' not in nodes:
        raise QdotsInputError(f'node {aimd.pk}: no AIMD spectra output found')
    spectra, spectrum, modes = nodes['spectra'], workchain.outputs.spectrum, workchain.outputs.modes
    table = raman_aimd_table(spectrum, modes, spectra, parameters)
    low, high = table['parameters']['window_cm1']
    name = table['parameters']['aimd_spectrum']
    figure = Figure(figsize=(6.4, 5.2), layout='constrained')
    top, bottom = figure.subplots(2, 1, sharex=True)
    grid, raman = spectrum.get_array('wavenumbers'), spectrum.get_array('raman')
    keep = (grid >= low) & (grid <= high)
    scale = raman[keep].max() or 1.0  # a spectrum without Raman activity in the window stays flat
    sticks, activities = modes.get_array('wavenumbers'), modes.get_array('raman_activities')
    inside = (sticks >= low) & (sticks <= high)
    if inside.any():
        top.vlines(sticks[inside], 0, activities[inside] / (activities[inside].max() or 1.0), color='0.7', lw=0.8)
    top.plot(grid[keep], raman[keep] / scale, color='k', lw=1.2)
    frequency, power = spectra.get_array('frequency_cm1'), spectra.get_array(name)
    shown = (frequency >= low) & (frequency <= high)
    bottom.plot(frequency[shown], 1000 * power[shown], color='k' if name == 'total' else element_colour(name, 0))
    aimd_scale = 1000 * power[shown].max() or 1.0
    for k, row in enumerate(table['pairs']):
        colour = f'C{k % 10}'
        a = (row['raman_cm1'], row['raman_height'])
        b = (row['aimd_cm1'], row['aimd_height'] * aimd_scale)
        top.plot(*a, 'v', color=colour)
        bottom.plot(*b, 'v', color=colour)
        top.annotate(f'{a[0]:.0f}', a, textcoords='offset points', xytext=(0, 6), ha='center', fontsize=7, color=colour)
        bottom.annotate(
            f'{b[0]:.0f}', b, textcoords='offset points', xytext=(0, 6), ha='center', fontsize=7, color=colour
        )
        figure.add_artist(ConnectionPatch(a, b, 'data', 'data', axesA=top, axesB=bottom, color=colour, ls=':', lw=0.8))
    for row in table['unpaired_raman']:
        top.plot(row['raman_cm1'], row['raman_height'], 'v', mfc='none', color='0.4')
    for row in table['unpaired_aimd']:
        bottom.plot(row['aimd_cm1'], row['aimd_height'] * aimd_scale, 'v', mfc='none', color='0.4')
    top.set(ylabel='Raman activity (normalised)', yticks=[], ylim=(0, 1.2))
    top.set_title(
        f'{_label(workchain)}: Raman (Gaussian HWHM {table["raman_hwhm_cm1"]:g} cm$^{{-1}}$), '
        f'{table["n_pairs"]} pairs within {table["parameters"]["tolerance_cm1"]:.1f} cm$^{{-1}}$, '
        f'{table["n_resolved"]} shifts resolved',
        fontsize=9,
    )
    window = table['aimd_window'] or {}
    bottom.set(xlabel='wavenumber (cm$^{-1}$)', ylabel=f'AIMD power, {name} (meV per cm$^{{-1}}$)', xlim=(low, high))
    bottom.set_ylim(0, 1.2 * aimd_scale)
    bottom.set_title(
        f'mass-weighted VACF, {window.get("n_frames", "?")} frames: resolution (line FWHM) '
        f'{table["aimd_resolution_cm1"]:.1f} cm$^{{-1}}$, '
        f'1/(c T$_{{lag}}$) = {table["aimd_inverse_lag_cm1"]:.1f} cm$^{{-1}}$',
        fontsize=9,
    )
    return figure, table


def plot_raman_vs_aimd(
    vibrations, aimd, output: str | pathlib.Path | None = None, parameters: dict | None = None
) -> tuple[pathlib.Path, dict]:
    """Write :func:`raman_aimd_figure` as PNG (default ``raman_vs_aimd_<pk>.png``); returns the path and the table."""
    path = output_path(output, 'raman_vs_aimd', vibrations)
    figure, table = raman_aimd_figure(vibrations, aimd, parameters)
    figure.savefig(path, dpi=150)
    return path, table
