"""Study B's reproduction report: the package's numbers beside the seed's statements, from the ``qdots.phonons`` runs
filed by a ``qdots.study_b`` study (``aiida-qdots reproduce study-b``).

Numbers are read from stored nodes. Computed here: per frequency band the lifetime statistics
(:func:`~aiida_qdots.analysis.mode_lifetimes.band_statistics` on the stored per-mode lifetimes), the block error of
dG(r) (the calcfunction :func:`~aiida_qdots.functions.diffraction.diffraction_block_error`, stored on first use),
wall times (process node creation -> last change) and CPU times (LAMMPS' loop time x ranks x CPU use, from the
retrieved screen output).
"""

from __future__ import annotations

import datetime
import pathlib

import numpy as np
from aiida import orm
from matplotlib.figure import Figure

from aiida_qdots.analysis.mode_lifetimes import band_statistics
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.output_keys import BRAGG_WEIGHTING, MSD_SLOPE_BY_WEIGHTING_KEY, MSD_SLOPE_WEIGHTING_KEY
from aiida_qdots.functions.diffraction import stored_block_error
from aiida_qdots.plots.phonons import plot_phonons
from aiida_qdots.query import stage_processes
from aiida_qdots.readers.lammps import parse_lammps_log

SEED = {
    'msd': 'MSD linear in T over 150-500 K; the slope turns a Debye-Waller change into a lattice temperature',
    'dg_radii_angstrom': (2.5, 4.1, 7.1),
    'dg': 'transient losses at 2.5, 4.1 and 7.1 A; MD dG(r, dT = 14 K) overlaid on the measured one',
    'lifetimes': 'typically < 1 ps; ~10 ps only for acoustic modes below 0.5 THz',
    'particle': 'CdSe/CdS core/shell, eight CdS monolayers, thousands of atoms',
}
"""The seed's statements (../shared/DESIGN.md, Study B items 1-6)."""
BANDS_THZ = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 12.0)
LINEAR_RESIDUAL = 0.05
"""Largest |residual| / <u^2> of the straight line for the MSD(T) verdict 'linear'."""


def parts(study: str) -> dict[str, orm.WorkflowNode]:
    """The filed ``qdots.phonons`` runs of ``study`` by part (``lattice``, ``lifetimes``)."""
    found = {node.base.extras.get('qdots', {}).get('part'): node for node in stage_processes(study, 'phonons')}
    found.pop(None, None)
    if not found:
        raise QdotsInputError(
            f'study {study!r} has no finished phonons part yet; `aiida-qdots status --group qdots/{study}`'
        )
    return found


def _pm(value: float, error: float, scale: float = 1.0, digits: int = 3) -> str:
    return f'{value * scale:.{digits}g} ± {error * scale:.2g}'


def lammps_times(phonons: orm.WorkflowNode) -> list[tuple[str, int, float | None, float | None, float | None]]:
    """(job label, atoms, wall s, loop CPU s, CPU use %) of every LAMMPS job the run called."""
    rows = []
    for job in sorted(phonons.called, key=lambda n: n.ctime):
        if not isinstance(job, orm.CalcJobNode) or 'results' not in job.outputs:
            continue
        results = job.outputs.results.get_dict()
        cpu, use = None, None
        if 'retrieved' in job.outputs and 'lammps.out' in job.outputs.retrieved.list_object_names():
            blocks = parse_lammps_log(job.outputs.retrieved.base.repository.get_object_content('lammps.out')).blocks
            timed = [b for b in blocks if b.loop_time is not None and b.cpu_use_percent is not None]
            cpu = sum(b.loop_time * b.num_procs * b.cpu_use_percent / 100 for b in timed) if timed else None
            loop = sum(b.loop_time * b.num_procs for b in timed)
            use = 100 * cpu / loop if timed and loop else None
        rows.append((job.label, results.get('num_atoms'), results.get('wall_time_seconds'), cpu, use))
    return rows


def msd_lines(phonons: orm.WorkflowNode) -> list[str]:
    msd, slope = phonons.outputs.msd, phonons.outputs.msd_slope.get_dict()
    groups = msd.base.attributes.get('groups')
    lines = ['| T (K) | ' + ' | '.join(f'<u²> {g} (Å²)' for g in groups) + ' |', '|---' * (len(groups) + 1) + '|']
    for k, t in enumerate(msd.get_array('temperature_k')):
        cells = [_pm(msd.get_array(f'msd_{g}_A2')[k], msd.get_array(f'sem_{g}_A2')[k]) for g in groups]
        lines.append(f'| {t:g} | ' + ' | '.join(cells) + ' |')
    fit = slope['fit']
    n_temperatures = len(slope['temperatures_K'])
    if n_temperatures < 3:
        verdict = f'linearity not tested ({n_temperatures} temperatures)'
    else:
        linear = fit['max_relative_residual'] <= LINEAR_RESIDUAL
        verdict = (
            f'{"linear" if linear else "NOT linear"} (max |residual|/<u²> {fit["max_relative_residual"]:.3f} '
            f'against {LINEAR_RESIDUAL}, reduced χ² {fit["chi2_reduced"]:.2g}; n = {n_temperatures} temperatures)'
        )
    q_range = slope.get('weighting_q_range_inv_angstrom')
    lines += [
        '',
        '| slope d<u²>/dT (10⁻⁴ Å²/K, 3D) | package | seed | verdict |',
        '|---|---|---|---|',
    ]
    for weighting, value in slope[MSD_SLOPE_BY_WEIGHTING_KEY].items():
        name = f'{weighting}' + (f' over Q = {q_range[0]:g}-{q_range[1]:g} Å⁻¹' if weighting != 'atoms' else '')
        main = ' (main)' if weighting == slope[MSD_SLOPE_WEIGHTING_KEY] else ''
        if weighting == BRAGG_WEIGHTING:
            name, main = 'du² the Bragg-peak route reads', ' (used by the Debye-Waller route of qdots.ued)'
        measured = _pm(value['slope_A2_per_K'], value['slope_stderr_A2_per_K'], 1e4)
        lines.append(f'| {name}{main} | {measured} | no number stated | {verdict} |')
    for element, value in sorted(slope.get('by_element', {}).items()):
        lines.append(f'| {element} only | {_pm(value["slope_A2_per_K"], value["slope_stderr_A2_per_K"], 1e4)} | | |')
    lines += ['', f'Seed: {SEED["msd"]}. Errors: standard errors of the weighted line through block SEMs.']
    return lines


def diffraction_lines(phonons: orm.WorkflowNode) -> list[str]:
    measured = phonons.outputs.diffraction
    attributes = measured.base.attributes
    cold, hot = attributes.get('temperatures_k')
    r, dg = measured.get_array('r_angstrom'), measured.get_array('delta_g')
    errors = stored_block_error(measured)
    err = errors.get_array('delta_g_stderr') if errors is not None else np.full_like(dg, np.nan)
    q_min, q_max = attributes.get('q_range_inv_angstrom')
    lines = [
        f'Electron diffraction forward model (Debye equation, Kirkland factors), Q = {q_min:g}-{q_max:g} Å⁻¹, '
        f'{attributes.get("window")} window, {attributes.get("normalisation")}; frames {attributes.get("n_frames")} '
        f'(cold, hot) at {cold:g} and {hot:g} K (dT = {hot - cold:g} K). dG = G(hot) - G(cold); error: two blocks '
        '(first and second half of the frames).',
        '',
        f'G(r) peaks at {cold:g} K: {", ".join(f"{x:.2f}" for x in attributes.get("peaks_cold_angstrom")[:6])} Å',
        '',
        '| r (Å) | dG(r) package (10⁻³ Å⁻²) | seed |',
        '|---|---|---|',
    ]
    for radius in SEED['dg_radii_angstrom']:
        k = int(np.argmin(np.abs(r - radius)))
        lines.append(f'| {radius:g} | {_pm(dg[k], err[k], 1e3)} | loss |')
    window = (r >= 2.0) & (r <= 8.0)
    order = np.argsort(dg[window])
    minima = [x for i, x in enumerate(r[window][order]) if all(abs(x - y) > 0.5 for y in r[window][order][:i])][:3]
    significant = np.abs(dg) > 2 * err
    lines += [
        '',
        f'Deepest losses of dG in 2-8 Å at {", ".join(f"{x:.2f}" for x in sorted(minima))} Å; '
        f'{int(significant[window].sum())} of {int(window.sum())} points in 2-8 Å exceed twice their block error '
        f'(median block error {np.nanmedian(err[window]) * 1e3:.2g}e-3 Å⁻²). Seed: {SEED["dg"]}.',
    ]
    return lines


def lifetime_lines(phonons: orm.WorkflowNode) -> tuple[list[str], list[dict]]:
    lifetimes = phonons.outputs.lifetimes
    max_lag = float(lifetimes.base.attributes.get('max_lag_fs'))
    f = lifetimes.get_array('frequency_thz')
    rows = band_statistics(f, lifetimes.get_array('tau_gle_fs'), BANDS_THZ, max_lag)
    lorentz = band_statistics(f, lifetimes.get_array('tau_lorentzian_fs'), BANDS_THZ, max_lag)
    lines = [
        f'tau = 1/Re K(iω) (energy lifetime; the VACF envelope decays in 2 tau), VACF window {max_lag / 1000:g} ps, '
        f'{f.size} vibrational modes. Median over resolved modes with a 95 % bootstrap interval; "window" = modes '
        'with tau <= window/3; verdict converged when >= 90 % of the resolved modes are within it.',
        '',
        '| band (THz) | modes | resolved (GLE) | median GLE (ps) [95 % CI] | quartiles (ps) | share < 1 ps | '
        'median Lorentzian (ps) | verdict |',
        '|---|---|---|---|---|---|---|---|',
    ]
    for row, line in zip(rows, lorentz, strict=True):
        low, high = row['band_thz']
        median = (
            f'{row["median_ps"]:.3g} [{row["median_ci95_ps"][0]:.3g}, {row["median_ci95_ps"][1]:.3g}]'
            if row['n_resolved']
            else 'n/a'
        )
        quartiles = f'{row["quartiles_ps"][0]:.3g}-{row["quartiles_ps"][1]:.3g}' if row['n_resolved'] else 'n/a'
        share = f'{row["fraction_below_1ps"]:.2f}' if row['n_resolved'] else 'n/a'
        lines.append(
            f'| {low:g}-{high:g} | {row["n_modes"]} | {row["n_resolved"]} | {median} | {quartiles} | {share} | '
            f'{line.get("median_ps", float("nan")):.3g} | {"converged" if row["converged"] else "NOT converged"} '
            f'({row["n_within_window"]} in window) |'
        )
    tau = lifetimes.get_array('tau_gle_fs') / 1000
    resolved = np.isfinite(tau)
    lines += [
        '',
        f'All resolved modes: {int(resolved.sum())} of {tau.size}; share below 1 ps '
        f'{np.mean(tau[resolved] < 1.0):.2f}; median {np.median(tau[resolved]):.3g} ps. Seed: {SEED["lifetimes"]}.',
    ]
    return lines, rows


def lifetimes_figure(phonons: orm.WorkflowNode) -> Figure:
    """Lifetimes against frequency (the seed's Fig. 2e), with the seed's statements drawn in."""
    lifetimes = phonons.outputs.lifetimes
    f = lifetimes.get_array('frequency_thz')
    figure = Figure(figsize=(6.0, 4.2), layout='constrained')
    ax = figure.subplots()
    for name, marker, label in (('tau_gle_fs', 'o', '1/Re K(iω)'), ('tau_lorentzian_fs', 'x', 'Lorentzian')):
        tau = lifetimes.get_array(name) / 1000
        ok = np.isfinite(tau)
        ax.plot(f[ok], tau[ok], marker, markersize=2.5, alpha=0.6, linestyle='none', label=f'{label} ({ok.sum()})')
    ax.axhline(1.0, color='k', linestyle='--', linewidth=0.8, label='seed: typically < 1 ps')
    ax.plot([0.0, 0.5], [10.0, 10.0], 'r-', linewidth=3, label='seed: ~10 ps, acoustic < 0.5 THz')
    window = float(lifetimes.base.attributes.get('max_lag_fs')) / 1000
    ax.axhline(window, color='grey', linestyle=':', linewidth=0.8, label=f'VACF window {window:g} ps')
    ax.set(
        xlabel='frequency (THz)',
        ylabel='lifetime (ps)',
        yscale='log',
        title=f'{phonons.inputs.structure.get_formula()}, 300 K',
    )
    ax.legend(fontsize=7)
    return figure


def _particle(node: orm.WorkflowNode) -> str:
    extras = node.base.extras.get('qdots', {})
    return (
        f'{node.inputs.structure.get_formula()} ({len(node.inputs.structure.sites)} atoms; '
        f'{float(extras.get("diameter_requested", 0)) / 10:g} nm CdSe core, CdS monolayers: '
        f'{extras.get("shell_monolayers", 0)})'
    )


def write_report(study: str, folder: str | pathlib.Path, title: str = 'Study B reproduction') -> pathlib.Path:
    """Write ``folder/README.md`` and its figures for ``study``; return the markdown path."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    found = parts(study)
    lines = [
        f'# {title}: `{study}`',
        '',
        f'Written {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `aiida-qdots reproduce study-b` '
        f'from the nodes filed under `qdots/{study}`. Seed particle: {SEED["particle"]}.',
        '',
        '| part | particle | protocol | wall (min) | process |',
        '|---|---|---|---|---|',
    ]
    for part, node in sorted(found.items()):
        protocol = node.base.extras.get('qdots', {}).get('protocol')
        wall = (node.mtime - node.ctime).total_seconds() / 60
        lines.append(f'| {part} | {_particle(node)} | `{protocol}` | {wall:.1f} | {node.process_label}<{node.pk}> |')
    figures = []
    if 'lattice' in found:
        lattice = found['lattice']
        lines += ['', '## MSD(T) and d<u²>/dT', '', *msd_lines(lattice)]
        if 'diffraction' in lattice.outputs:
            lines += ['', '## G(r) and dG(r)', '', *diffraction_lines(lattice)]
        figures.append(('MSD(T) and G(r) / dG(r) of the lattice part', plot_phonons(lattice, folder / 'lattice.png')))
    else:
        lines += ['', '## MSD(T), G(r), dG(r)', '', 'The lattice part has not finished: not reached.']
    if 'lifetimes' in found:
        table, _ = lifetime_lines(found['lifetimes'])
        lines += ['', '## Mode lifetimes against frequency', '', *table]
        path = folder / 'lifetimes_fig2e.png'
        lifetimes_figure(found['lifetimes']).savefig(path, dpi=150)
        figures.append(("Mode lifetimes against frequency with the seed's statements (cf. Fig. 2e)", path))
        figures.append(
            ('DOS and lifetimes of the lifetimes part', plot_phonons(found['lifetimes'], folder / 'modes.png'))
        )
    else:
        lines += ['', '## Mode lifetimes', '', 'The lifetimes part has not finished: not reached.']
    lines += [
        '',
        '## Wall and CPU times of the LAMMPS jobs',
        '',
        '| part | job | atoms | wall (s) | CPU (s) | CPU use |',
    ]
    lines.append('|---|---|---|---|---|---|')
    for part, node in sorted(found.items()):
        for label, atoms, wall, cpu, use in lammps_times(node):
            cells = [f'{x:.0f}' if x is not None else 'n/a' for x in (wall, cpu)]
            lines.append(
                f'| {part} | {label} | {atoms} | {cells[0]} | {cells[1]} | {"n/a" if use is None else f"{use:.0f} %"} |'
            )
    lines += ['', '## Figures', '']
    lines += [f'![{caption}]({path.name})\n\n{caption}\n' for caption, path in figures]
    path = folder / 'README.md'
    path.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return path
