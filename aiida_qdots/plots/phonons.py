"""Study B, phonon figures from a ``qdots.phonons`` workchain: DOS, lifetimes against frequency (the seed's Fig. 2e),
<u^2>(T) with the fitted slope, and G(r) with dG(r)."""

from __future__ import annotations

import pathlib

import numpy as np
from aiida import orm
from matplotlib.figure import Figure

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.plots.common import element_colour, output_path


def phonons_figure(workchain: orm.WorkflowNode) -> Figure:
    """One panel per stage the workchain ran (DOS, lifetimes, MSD(T), G(r)/dG(r))."""
    outputs = workchain.outputs
    panels = [name for name in ('dos', 'lifetimes', 'msd', 'pdf') if name in outputs]
    if not panels:
        raise QdotsInputError(f'{workchain.process_label}<{workchain.pk}> has no phonon outputs')
    figure = Figure(figsize=(4.2 * len(panels), 3.8), layout='constrained')
    axes = dict(zip(panels, np.atleast_1d(figure.subplots(1, len(panels))), strict=True))
    if 'dos' in axes:
        dos = outputs.dos
        axes['dos'].plot(dos.get_array('frequency_thz'), dos.get_array('dos_per_thz'), 'k-')
        axes['dos'].set(
            xlabel='frequency (THz)',
            ylabel='DOS (states/THz)',
            title=f'phonon DOS ({dos.base.attributes.get("n_modes")} modes)',
        )
    if 'lifetimes' in axes:
        lifetimes, ax = outputs.lifetimes, axes['lifetimes']
        f = lifetimes.get_array('frequency_thz')
        for name, marker, label in (('tau_gle_fs', 'o', 'GLE friction'), ('tau_lorentzian_fs', 'x', 'Lorentzian')):
            tau = lifetimes.get_array(name)
            finite = np.isfinite(tau)
            ax.plot(
                f[finite],
                tau[finite] / 1000.0,
                marker,
                markersize=3,
                linestyle='none',
                label=f'{label} ({finite.sum()} of {tau.size} resolved)',
            )
        ax.set(xlabel='frequency (THz)', ylabel='lifetime (ps)', yscale='log', title='mode lifetimes')
        ax.legend(fontsize=7)
    if 'msd' in axes:
        msd, slope, ax = outputs.msd, outputs.msd_slope, axes['msd']
        t = msd.get_array('temperature_k')
        for k, name in enumerate(msd.base.attributes.get('groups')):
            ax.errorbar(
                t,
                msd.get_array(f'msd_{name}_A2'),
                msd.get_array(f'sem_{name}_A2'),
                fmt='o-',
                color='k' if name == 'all' else element_colour(name, k),
                label=name,
            )
        fit = slope['fit']
        grid = np.linspace(0, t.max() * 1.05, 50)
        ax.plot(
            grid,
            fit['intercept_A2'] + fit['slope_A2_per_K'] * grid,
            'k--',
            label=f'd<u²>/dT = {fit["slope_A2_per_K"]:.2e} ± {fit["slope_stderr_A2_per_K"]:.1e} Å²/K',
        )
        ax.set(xlabel='temperature (K)', ylabel='<u²> (Å²)', title='mean-square displacement')
        ax.legend(fontsize=7)
    if 'pdf' in axes:
        pdf, ax = outputs.pdf, axes['pdf']
        r = pdf.get_array('r_angstrom')
        cold, hot = pdf.base.attributes.get('temperatures_k')
        ax.plot(r, pdf.get_array('g_cold'), 'b-', linewidth=0.8, label=f'G(r), {cold:g} K')
        ax.plot(r, 10 * pdf.get_array('delta_g'), 'r-', linewidth=0.8, label=f'10 x [G({hot:g} K) - G({cold:g} K)]')
        if 'diffraction' in outputs:
            measured = outputs.diffraction
            q_min, q_max = measured.base.attributes.get('q_range_inv_angstrom')
            ax.plot(
                measured.get_array('r_angstrom'),
                10 * measured.get_array('delta_g'),
                'm--',
                linewidth=0.8,
                label=f'10 x dG, electron diffraction over Q = {q_min:g}-{q_max:g} Å⁻¹',
            )
        ax.set(xlabel='r (Å)', ylabel='G(r) (Å⁻²)', title='pair distribution function')
        ax.legend(fontsize=7)
    return figure


def plot_phonons(node: orm.Node, output: str | pathlib.Path | None = None, dpi: int = 150) -> pathlib.Path:
    """Write :func:`phonons_figure` of a ``qdots.phonons`` workchain as PNG (default ``phonons_<pk>.png``)."""
    if not isinstance(node, orm.WorkflowNode):
        raise QdotsInputError(f'node {node.pk} is not a qdots.phonons workchain')
    path = output_path(output, 'phonons', node)
    phonons_figure(node).savefig(path, dpi=dpi)
    return path
