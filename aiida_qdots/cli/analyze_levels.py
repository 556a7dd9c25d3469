"""``aiida-qdots analyze levels``: fluctuation and dephasing analysis of stored per-frame orbital energies."""

from __future__ import annotations

import json

import click

from aiida_qdots.cli.analyze import analyze
from aiida_qdots.cli.utils import echo_pk, with_profile
from aiida_qdots.common.errors import QdotsInputError


@analyze.command('levels')
@click.argument('pk')
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
    "(convention -> fs; gaussian_cumulant is the paper's form), node_pks.",
)
@with_profile
def analyze_levels_command(pk, last_frames, max_lag_fs, as_json):
    """Gap fluctuations and pure dephasing of the stored levels PK (PK or UUID of per-frame HOMO/LUMO energies,
    e.g. from `aiida-qdots import levels`), run as the calcfunction analyze_levels.

    Prints mean and standard deviation of HOMO, LUMO and gap (eV) and the dephasing time (fs) in every convention.
    """
    from aiida.engine import run_get_node

    from aiida_qdots.functions.levels import (
        analyze_levels,
        check_levels,
        levels_analysis_parameters,
        load_levels,
    )

    values = {'last_frames': last_frames, 'max_lag_fs': max_lag_fs}
    try:
        levels = load_levels(int(pk) if pk.isdigit() else pk)
        params = levels_analysis_parameters({k: v for k, v in values.items() if v is not None})
        check_levels(levels, params)
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    from aiida import orm

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
                    'node_pks': node_pks,
                }
            )
        )
        return
    echo_pk('analyze_levels', node)
    window = summary['window']
    click.echo(
        f'levels PK {levels.pk}: {window["n_frames"]} frames {window["timestep_fs"]:g} fs apart '
        f'(rows {window["start_row"]}..{window["stop_row"] - 1}, {window["duration_fs"]:g} fs)'
    )
    for name, label in (('homo', 'HOMO'), ('lumo', 'LUMO'), ('gap', 'gap')):
        stats = summary['statistics'][name]
        click.echo(
            f'{label:<5} mean {summary[f"{name}_mean_ev"]:9.4f} eV   std {summary[f"{name}_std_ev"]:.4f} eV   '
            f'(s.e.m. {stats["sem_ev"]:.4f} eV, blocks of {stats["sem_block_size"]} frames'
            f'{"" if stats["sem_converged"] else ", no plateau"})'
        )
    click.echo(f'dephasing time of the gap (fs; paper: {summary["paper_convention"]}):')
    for name, value in summary['dephasing_fs'].items():
        shown = 'n/a' if value is None else f'{value:8.2f}'
        click.echo(f'  {name:<21} {shown}   {summary["conventions"][name]}')
    if 'warning' in summary:
        click.echo(f'warning: {summary["warning"]}', err=True)
    echo_pk('summary', outputs['summary'])
    echo_pk('dephasing', outputs['dephasing'])
