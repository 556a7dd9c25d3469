"""``aiida-qdots analyze``: run the analyses on stored data (trajectories, per-frame levels), with provenance, in this
process."""

from __future__ import annotations

import json

import click

from aiida_qdots.cli.root import cli
from aiida_qdots.cli.utils import echo_pk, exit_if_failed, node_argument, with_profile


@cli.group('analyze')
def analyze():
    """Analyse stored data (the results are nodes linked to their inputs)."""


@analyze.command('trajectory')
@node_argument('trajectory', 'trajectory', 'TrajectoryData')
@click.option(
    '--last-frames',
    type=click.IntRange(min=1),
    default=None,
    help='Analyse the last N frames (default: the whole trajectory).',
)
@click.option(
    '--acoustic-cutoff',
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    help='Boundary between the acoustic and the optical region, in cm^-1.',
)
@click.option(
    '--json',
    'as_json',
    is_flag=True,
    help='Print one JSON object: rmsf_by_element (A), spectrum_peak_cm1, optical_fraction, convergence, node_pks.',
)
@with_profile
def analyze_trajectory(trajectory, last_frames, acoustic_cutoff, as_json):
    """RMSF and vibrational power spectra of the stored trajectory NODE (PK, UUID or label) via qdots.aimd_analysis.

    Prints the per-element mean RMSF (A), the main peak of the power spectrum (cm^-1) and the acoustic/optical
    fractions.
    """
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_qdots.analysis.convergence import verdict_text
    from aiida_qdots.structures.importers import load_trajectory
    from aiida_qdots.workchains.aimd_analysis import AimdAnalysisWorkChain

    trajectory = load_trajectory(trajectory)
    parameters = {'acoustic_cutoff_cm1': acoustic_cutoff}
    if last_frames is not None:
        parameters['last_frames'] = last_frames
    _, node = run_get_node(AimdAnalysisWorkChain, trajectory=trajectory, parameters=orm.Dict(parameters))
    exit_if_failed(node)
    outputs = {name: node.outputs[name] for name in ('rmsf', 'spectra', 'summary')}
    summary = outputs['summary'].get_dict()
    if as_json:
        click.echo(
            json.dumps(
                {
                    'rmsf_by_element': summary['rmsf_by_element'],
                    'spectrum_peak_cm1': summary['spectrum_peak_cm1'],
                    'optical_fraction': summary['optical_fraction'],
                    'convergence': summary['convergence'],
                    'node_pks': {
                        'workchain': node.pk,
                        'trajectory': trajectory.pk,
                        **{name: output.pk for name, output in outputs.items()},
                    },
                }
            )
        )
        return
    echo_pk('AimdAnalysisWorkChain', node)
    window = summary['window']
    click.echo(
        f'window: frames {window["start_frame"]}..{window["stop_frame"] - 1} ({window["n_frames"]} frames, '
        f'{window["timestep_fs"]:g} fs apart)'
    )
    counts = outputs['spectra'].base.attributes.get('n_atoms_by_element')
    spread = outputs['rmsf'].base.attributes.get('rmsf_by_element_std')
    for element, value in summary['rmsf_by_element'].items():
        click.echo(
            f'RMSF {element:<3} {value:.3f} A  (s.d. over atoms {spread[element]:.3f} A, {counts[element]} atoms)'
        )
    click.echo(f'main peak: {summary["spectrum_peak_cm1"]:.1f} cm^-1')
    click.echo(
        f'acoustic (< {summary["acoustic_cutoff_cm1"]:g} cm^-1): {summary["acoustic_fraction"]:.3f}   '
        f'optical: {summary["optical_fraction"]:.3f}'
    )
    click.echo(
        f'kinetic temperature: {summary["kinetic_temperature_k"]:.1f} K (velocities: {summary["velocity_source"]})'
    )
    for name in ('rmsf', 'spectra'):
        click.echo(f'{name}: {verdict_text(summary["convergence"][name])}')
    for name, output in outputs.items():
        echo_pk(name, output)


@analyze.command('levels')
@node_argument('levels', 'levels', 'ArrayData', description='an ArrayData of per-frame levels')
@click.option(
    '--last-frames',
    type=click.IntRange(min=1),
    default=None,
    help='Analyse the last N sampled frames (rows) of the levels (default: all).',
)
@click.option(
    '--max-lag',
    'max_lag_fs',
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help='Longest lag of the gap autocorrelation and dephasing function, in fs (default: half the window).',
)
@click.option(
    '--json',
    'as_json',
    is_flag=True,
    help='Print one JSON object: homo_std_ev, lumo_std_ev, gap_mean_ev, gap_std_ev, dephasing_fs '
    "(convention -> fs; gaussian_cumulant is the paper's form), convergence (verdict per quantity), node_pks.",
)
@with_profile
def analyze_levels_command(levels, last_frames, max_lag_fs, as_json):
    """Gap fluctuations and pure dephasing of the stored levels NODE (PK, UUID or label of per-frame HOMO/LUMO energies,
    e.g. from `aiida-qdots import levels`), run as the calcfunction analyze_levels.

    Prints mean and standard deviation of HOMO, LUMO and gap (eV) and the dephasing time (fs) in every convention.
    """
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_qdots.analysis.convergence import verdict_text
    from aiida_qdots.functions.levels import (
        analyze_levels,
        check_levels,
        levels_analysis_parameters,
        load_levels,
    )

    values = {'last_frames': last_frames, 'max_lag_fs': max_lag_fs}
    levels = load_levels(levels)
    params = levels_analysis_parameters({k: v for k, v in values.items() if v is not None})
    check_levels(levels, params)

    outputs, node = run_get_node(analyze_levels, levels=levels, parameters=orm.Dict(params))
    summary = outputs['summary'].get_dict()
    node_pks = {
        'calcfunction': node.pk,
        'levels': levels.pk,
        'parameters': node.inputs.parameters.pk,
        'summary': outputs['summary'].pk,
        'dephasing': outputs['dephasing'].pk,
    }
    if as_json:
        click.echo(
            json.dumps(
                {
                    'homo_std_ev': summary['homo_std_ev'],
                    'lumo_std_ev': summary['lumo_std_ev'],
                    'gap_mean_ev': summary['gap_mean_ev'],
                    'gap_std_ev': summary['gap_std_ev'],
                    'dephasing_fs': summary['dephasing_fs'],
                    'convergence': summary['convergence'],
                    'node_pks': node_pks,
                }
            )
        )
        return
    echo_pk('analyze_levels', node)
    window = summary['window']
    click.echo(
        f'levels PK {levels.pk}: {window["n_frames"]} frames {window["timestep_fs"]:g} fs apart '
        f'(rows {window["start_row"]}..{window["stop_row"] - 1}, {window["duration_fs"]:g} fs'
        + (f', {window["n_missing_frames"]} frames missing' if window['n_missing_frames'] else '')
        + ')'
    )
    for name, label in (('homo', 'HOMO'), ('lumo', 'LUMO'), ('gap', 'gap')):
        stats = summary['statistics'][name]
        click.echo(
            f'{label:<5} mean {summary[f"{name}_mean_ev"]:9.4f} eV   std {summary[f"{name}_std_ev"]:.4f} eV   '
            f'(s.e.m. {stats["sem_ev"]:.4f} eV, blocks of {stats["sem_block_size"]} frames'
            f'{"" if stats["sem_converged"] else ", no plateau"})'
        )
        click.echo(f'      {verdict_text(summary["convergence"][name])}')
    click.echo(f'dephasing time of the gap (fs; paper: {summary["paper_convention"]}):')
    for name, value in summary['dephasing_fs'].items():
        shown = 'n/a' if value is None else f'{value:8.2f}'
        click.echo(f'  {name:<21} {shown}   {summary["conventions"][name]}')
    click.echo(f'  dephasing: {verdict_text(summary["convergence"]["dephasing"])}')
    if 'warning' in summary:
        click.echo(f'warning: {summary["warning"]}', err=True)
    echo_pk('summary', outputs['summary'])
    echo_pk('dephasing', outputs['dephasing'])
