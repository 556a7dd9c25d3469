"""Study B, UED figures from a ``qdots.ued`` workchain: I/I0(t) per peak, -ln(I/I0) vs Q^2 with the Debye-Waller
fits at a few delays, and dT(t) with the kinetic-model fit; one row per pump set."""

from __future__ import annotations

import pathlib

import numpy as np
from aiida import orm
from matplotlib.figure import Figure

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.plots.common import output_path


def ued_figure(workchain: orm.WorkflowNode, n_delays: int = 4) -> Figure:
    """Three panels per pump set of the finished ``qdots.ued`` workchain."""
    outputs = workchain.outputs
    data = outputs.peak_table if 'peak_table' in outputs else workchain.inputs.data
    dw, temperature, curves = outputs.debye_waller, outputs.lattice_temperature, outputs.fit_curves
    delays, q = data.get_array('delay_ps'), data.get_array('q_inv_angstrom')
    ratio, peaks = data.get_array('intensity_ratio'), data.base.attributes.get('peaks')
    sets = outputs.fit['sets']
    figure = Figure(figsize=(13.0, 3.6 * len(sets)), layout='constrained')
    axes = np.atleast_2d(figure.subplots(len(sets), 3))
    late = np.linspace(np.searchsorted(delays, 0.0), delays.size - 1, n_delays).astype(int)
    for s, entry in enumerate(sets):
        title = (
            f'{entry["wavelength_nm"]:g} nm, {entry["fluence_mj_cm2"]:.3g} mJ/cm$^2$, '
            f'<N> = {entry["mean_initial_pairs"]:.1f}'
        )
        for p in range(0, q.size, max(1, q.size // 6)):
            axes[s, 0].plot(delays, ratio[s, :, p], '.-', markersize=3, label=f'({peaks[p]})')
        axes[s, 0].set(xlabel='delay (ps)', ylabel='I/I$_0$', title=title)
        axes[s, 0].legend(fontsize=7, ncols=2)
        for k, i in enumerate(late):
            axes[s, 1].plot(q**2, -np.log(ratio[s, i]), 'o', color=f'C{k}', markersize=3, label=f'{delays[i]:g} ps')
            axes[s, 1].plot(q**2, q**2 * dw.get_array('du2')[s, i] / 3.0, '-', color=f'C{k}')
        axes[s, 1].set(xlabel='Q$^2$ (Å$^{-2}$)', ylabel='-ln(I/I$_0$)', title='Debye-Waller fits')
        axes[s, 1].legend(fontsize=7)
        axes[s, 2].errorbar(
            delays,
            temperature.get_array('delta_t_k')[s],
            temperature.get_array('delta_t_err_k')[s],
            fmt='o',
            markersize=3,
            color='k',
            label='from Debye-Waller',
        )
        values = ', '.join(fitted_label(outputs.fit, k) for k in outputs.fit['values'])
        axes[s, 2].plot(
            curves.get_array(f'time_ps_{s}'), curves.get_array(f'delta_t_k_{s}'), 'r-', label=f'model: {values}'
        )
        axes[s, 2].set(xlabel='delay (ps)', ylabel='ΔT (K)', title='lattice temperature')
        axes[s, 2].legend(fontsize=7)
    return figure


def fitted_label(fit: orm.Dict, name: str) -> str:
    """'tau_auger 625 ps' for a time constant; 's 0.92 [0.85, 0.99]' for the dT scale, with its CI."""
    value = fit['values'][name]
    if name.endswith('_ps'):
        return f'{name[:-3]} {value:.3g} ps'
    low, high = ('inf' if x is None else f'{x:.3g}' for x in fit['ci'][name])
    return f's {value:.3g} [{low}, {high}]'


def plot_ued(node: orm.Node, output: str | pathlib.Path | None = None, dpi: int = 150) -> pathlib.Path:
    """Write :func:`ued_figure` of a finished ``qdots.ued`` workchain as PNG (default ``ued_<pk>.png``)."""
    if not isinstance(node, orm.WorkflowNode) or not {'fit', 'debye_waller'} <= set(node.outputs):
        raise QdotsInputError(f'node {node.pk} is not a finished qdots.ued workchain')
    path = output_path(output, 'ued', node)
    ued_figure(node).savefig(path, dpi=dpi)
    return path
