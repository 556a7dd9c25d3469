"""Study B, the dG route of a ``qdots.ued`` workchain on patterns I(Q, t), in the style of the seed's figures:
dG(r, t) at chosen delays with the MD dG(r, dT) laid over it, scaled to the measured dT (Fig. 2c); dG at 2.5, 4.1
and 7.1 A against delay with their exponential fits (Fig. 3b); the ratio dG(2.5)/dG(7.1) with its fit (Fig. 3c);
dT(t) of both routes with their kinetic-model fits (Fig. 4a) and the ratio of every set on one axis (Fig. 4b). One
row per pump set."""

from __future__ import annotations

import pathlib

import numpy as np
from aiida import orm
from matplotlib.figure import Figure

from aiida_qdots.analysis.dg_kinetics import ExponentialFit
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.plots.common import output_path


def _curve(fit: dict, t) -> np.ndarray | None:
    if 'tau' not in fit:
        return None
    fields = {k: (tuple(v) if k == 'tau_ci' else v) for k, v in fit.items()}
    return ExponentialFit(**fields).curve(t)


def _label(name: str, fit: dict) -> str:
    if 'tau' not in fit:
        return f'{name}: no fit'
    return f'{name}: τ = {fit["tau"]:.3g} ps [{fit["tau_ci"][0]:.3g}, {fit["tau_ci"][1]:.3g}]'


def _kinetic_label(fit: orm.Dict) -> str:
    names = {'tau_auger_ps': 'τ_AR', 'tau_trap_ps': 'τ_trap', 'heating_scale': 's'}
    return ', '.join(
        f'{names.get(k, k)} {v:.3g} [{fit["ci_statistical"][k][0]:.3g}, {fit["ci_statistical"][k][1]:.3g}]'
        for k, v in fit['values'].items()
    )


def dg_figure(workchain: orm.WorkflowNode, delays_shown=(1.0, 10.0, 100.0, 1000.0)) -> Figure:
    """Five panels per pump set (the last, Fig. 4b, compares the sets) from the stored outputs."""
    outputs = workchain.outputs
    pdf, series, fits = outputs.delta_pdf, outputs.dg_series, outputs.dg_fits.get_dict()
    temperature = outputs.lattice_temperature
    md = workchain.inputs.md_diffraction if 'md_diffraction' in workchain.inputs else None
    delays, r, dg = pdf.get_array('delay_ps'), pdf.get_array('r_angstrom'), pdf.get_array('delta_g')
    values, errors = series.get_array('delta_g_at'), series.get_array('delta_g_at_err')
    ratio, ratio_err = series.get_array('ratio'), series.get_array('ratio_err')
    t = np.linspace(fits['fit_from_ps'], delays.max(), 400)
    sets = fits['sets']
    figure = Figure(figsize=(20.0, 3.8 * len(sets)), layout='constrained')
    axes = np.atleast_2d(figure.subplots(len(sets), 5))
    for s, entry in enumerate(sets):
        title = f'{entry["wavelength_nm"]:g} nm, {entry["fluence_mj_cm2"]:.3g} mJ/cm$^2$'
        ax = axes[s, 0]
        for k, wanted in enumerate(delays_shown):
            i = int(np.argmin(np.abs(delays - wanted)))
            ax.plot(r, dg[s, i], color=f'C{k}', label=f'{delays[i]:g} ps')
            dt = temperature.get_array('delta_t_k')[s, i]
            if 'dg_route' in outputs:  # the MD dG per kelvin transformed as the data were
                per_k = outputs.dg_route.lattice_temperature.get_array('md_delta_g_per_k')
                ax.plot(r, dt * per_k, '--', color=f'C{k}', lw=0.8)
            elif md is not None:
                cold, hot = md.base.attributes.get('temperatures_k')
                ax.plot(md.get_array('r_angstrom'), dt / (hot - cold) * md.get_array('delta_g'), '--', color=f'C{k}',
                        lw=0.8)  # fmt: skip
        ax.axhline(0, color='grey', lw=0.5)
        ax.set(
            xlabel='r (Å)',
            ylabel='ΔG(r, t) (Å$^{-2}$)',
            title=f'{title}' + (' (dashed: MD per K x Debye-Waller ΔT)' if md is not None else ''),
        )
        ax.legend(fontsize=7)
        for k, distance in enumerate(fits['distances_angstrom']):
            fit = entry['fits'][f'delta_g_{distance:g}']
            axes[s, 1].errorbar(delays, values[s, :, k], errors[s, :, k], fmt='o', ms=3, color=f'C{k}',
                                label=_label(f'{distance:g} Å', fit))  # fmt: skip
            curve = _curve(fit, t)
            if curve is not None:
                axes[s, 1].plot(t, curve, color=f'C{k}')
        axes[s, 1].set(xlabel='delay (ps)', ylabel='ΔG (Å$^{-2}$)', xscale='symlog', title='correlation loss')
        axes[s, 1].legend(fontsize=7)
        shown = np.abs(values[s, :, -1]) > 3 * errors[s, :, -1]  # the ratio where its denominator is a signal
        axes[s, 2].errorbar(delays[shown], ratio[s, shown], ratio_err[s, shown], fmt='o', ms=3, color='k')
        curve = _curve(entry['fits']['ratio'], t)
        if curve is not None:
            axes[s, 2].plot(t, curve, 'r-', label=_label('ratio', entry['fits']['ratio']))
            axes[s, 2].legend(fontsize=7)
        first, last = fits['distances_angstrom'][0], fits['distances_angstrom'][-1]
        axes[s, 2].set(xlabel='delay (ps)', ylabel=f'ΔG({first:g} Å)/ΔG({last:g} Å)', xscale='symlog')
        axes[s, 3].errorbar(delays, temperature.get_array('delta_t_k')[s], temperature.get_array('delta_t_err_k')[s],
                            fmt='o', ms=3, color='k', label='ΔT from peaks (Debye-Waller route)')  # fmt: skip
        if 'delta_t' in entry['fits']:
            curve = _curve(entry['fits']['delta_t'], t)
            if curve is not None:
                axes[s, 3].plot(t, curve, 'k:', lw=1, label=_label('ΔT single exponential', entry['fits']['delta_t']))
        routes = [('Debye-Waller', outputs.fit, outputs.fit_curves, 'C0')]
        if 'dg_route' in outputs:
            route = outputs.dg_route
            axes[s, 3].errorbar(delays, route.lattice_temperature.get_array('delta_t_k')[s],
                                route.lattice_temperature.get_array('delta_t_err_k')[s], fmt='s', ms=3, mfc='none',
                                color='C3', label='ΔT from ΔG(r, t) (dG route)')  # fmt: skip
            routes.append(('dG', route.kinetic_fit, route.kinetic_fit_curves, 'C3'))
        for name, fit, curves, color in routes:
            axes[s, 3].plot(curves.get_array(f'time_ps_{s}'), curves.get_array(f'delta_t_k_{s}'), color=color, lw=1,
                            label=f'{name} route model: {_kinetic_label(fit)}')  # fmt: skip
        axes[s, 3].legend(fontsize=6, loc='lower right')
        axes[s, 3].set(xlabel='delay (ps)', ylabel='ΔT (K)', xscale='symlog', title='lattice temperature, both routes')
        axes[0, 4].errorbar(delays[shown], ratio[s, shown], ratio_err[s, shown], fmt='o', ms=3, label=title)
    axes[0, 4].set(xlabel='delay (ps)', ylabel='ratio', xscale='symlog', title='ratio, every set (|ΔG| > 3 errors)')
    axes[0, 4].legend(fontsize=7)
    for s in range(1, len(sets)):
        axes[s, 4].set_axis_off()
    return figure


def plot_ued_dg(node: orm.Node, output: str | pathlib.Path | None = None, dpi: int = 150) -> pathlib.Path:
    """Write :func:`dg_figure` of a finished ``qdots.ued`` workchain run on patterns (default ``ued_dg_<pk>.png``)."""
    if not isinstance(node, orm.WorkflowNode) or 'dg_fits' not in node.outputs:
        raise QdotsInputError(f'node {node.pk} is not a finished qdots.ued workchain on patterns I(Q, t)')
    path = output_path(output, 'ued_dg', node)
    dg_figure(node).savefig(path, dpi=dpi)
    return path
