"""``aiida-qdots analyze``: run the analyses on stored data, with provenance, in this process."""

from __future__ import annotations

import json

import click

from aiida_qdots.cli import cli
from aiida_qdots.cli.utils import echo_pk, with_profile
from aiida_qdots.common.errors import QdotsInputError


@cli.group('analyze')
def analyze():
    """Analyse stored data (the results are nodes linked to their inputs)."""


@analyze.command('trajectory')
@click.argument('pk')
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
    help='Print one JSON object: rmsf_by_element (A), spectrum_peak_cm1, optical_fraction, node_pks.',
)
@with_profile
def analyze_trajectory(pk, last_frames, acoustic_cutoff, as_json):
    """RMSF and vibrational power spectra of the stored trajectory PK (PK or UUID) via qdots.aimd_analysis.

    Prints the per-element mean RMSF (A), the main peak of the power spectrum (cm^-1) and the acoustic/optical
    fractions.
    """
    from aiida import orm
    from aiida.engine import run_get_node

    from aiida_qdots.structures.importers import load_trajectory
    from aiida_qdots.workchains.aimd_analysis import AimdAnalysisWorkChain

    try:
        trajectory = load_trajectory(int(pk) if pk.isdigit() else pk)
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    parameters = {'acoustic_cutoff_cm1': acoustic_cutoff}
    if last_frames is not None:
        parameters['last_frames'] = last_frames
    try:
        _, node = run_get_node(AimdAnalysisWorkChain, trajectory=trajectory, parameters=orm.Dict(parameters))
    except ValueError as exc:  # input validation: the message names the problem
        raise click.ClickException(str(exc)) from exc
    if not node.is_finished_ok:
        raise click.ClickException(
            f'{node.process_label}<{node.pk}> failed with exit status {node.exit_status}: {node.exit_message}'
        )
    outputs = {name: node.outputs[name] for name in ('rmsf', 'spectra', 'summary')}
    summary = outputs['summary'].get_dict()
    if as_json:
        click.echo(
            json.dumps(
                {
                    'rmsf_by_element': summary['rmsf_by_element'],
                    'spectrum_peak_cm1': summary['spectrum_peak_cm1'],
                    'optical_fraction': summary['optical_fraction'],
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
    for name, output in outputs.items():
        echo_pk(name, output)
