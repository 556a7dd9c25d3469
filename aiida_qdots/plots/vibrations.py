"""Study A vibration figures from ``qdots.vibrations`` workchains: broadened Raman spectra of several clusters (the
seed's Fig. 2b) and the displacement arrows of the mode nearest the main optical peak (Fig. 2c)."""

from __future__ import annotations

import pathlib

import numpy as np
from aiida import orm
from matplotlib.figure import Figure

from aiida_qdots.common.errors import QdotsInputError
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
