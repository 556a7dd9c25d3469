"""Whole studies: ``compare``, ``status`` and ``export`` (launched by ``launch study`` / ``launch lattice-study``, drawn
by ``plot figure``, shared by ``import archive``)."""

from __future__ import annotations

import pathlib

import click

from aiida_qdots.cli.root import cli
from aiida_qdots.cli.utils import with_profile, writable_path

STUDY_GROUP = click.option(
    '--group',
    'group_label',
    required=True,
    metavar='qdots/<study>',
    help='The study group, qdots/<study> (or just the study label).',
)


def study_of(group_label: str) -> str:
    """The study label of ``qdots/<study>`` (or of a bare ``<study>``); ClickException when no such study exists."""
    from aiida_qdots.query import studies

    parts = group_label.strip('/').split('/')
    study = parts[1] if parts[0] == 'qdots' and len(parts) > 1 else parts[0]
    known = studies()
    if study not in known:
        raise click.ClickException(f'no study {study!r} in this profile; studies: {", ".join(known) or "none"}')
    return study


def shown_table(name: str, table):
    """The printed form of a comparison table: no UUIDs, no verdict reasons (printed below the table), verdicts as
    ``yes`` / ``NO``, and a recombination time without a hop shown as its lower bound ``>= X (95%)`` instead of an
    empty cell.
    """
    shown = table.drop(columns=[c for c in table if c.endswith(('_uuid', '_reason'))])
    for column in [c for c in shown if c.endswith('_converged')]:
        shown[column] = [{True: 'yes', False: 'NO'}.get(value, '-') for value in shown[column]]
    if name == 'configurations' and shown['recombination_lower_bound_ns'].notna().any():
        shown['recombination_ns'] = [
            f'>= {bound:.3g} ({confidence:.0%})' if bound == bound and bound is not None else value
            for value, bound, confidence in zip(
                shown['recombination_ns'],
                shown['recombination_lower_bound_ns'],
                shown['recombination_bound_confidence'],
                strict=True,
            )
        ]
    return shown


def echo_verdicts(table) -> int:
    """Print the convergence verdict of every Study A number of the configurations ``table``; return how many are
    not converged.
    """
    from aiida_qdots.analysis.convergence import verdict_text
    from aiida_qdots.query import verdict_rows

    rows = verdict_rows(table)
    failed = sum(1 for *_, verdict in rows if verdict is not None and not verdict['converged'])
    judged = sum(1 for *_, verdict in rows if verdict is not None)
    click.echo(f'\nconvergence ({judged - failed} of {judged} numbers converged; thresholds: docs/statistics.md)')
    for system, configuration, quantity, verdict in rows:
        if verdict is not None:
            click.echo(f'  {system}/{configuration} {quantity:<13} {verdict_text(verdict)}')
    if failed:
        click.echo(
            f'WARNING: {failed} number(s) are NOT converged: they show that the pipeline runs, not what the physics '
            'is (a longer protocol converges them)'
        )
    for system, configuration, quantity, verdict in rows:
        if quantity == 'equilibrium' and verdict is not None and not verdict['converged']:
            click.echo(
                f'WARNING: {system}/{configuration}: the NVE production window is not stationary; its RMSF, spectra, '
                'levels and NAMD numbers describe a drifting (annealing or cooling) cluster whatever their own verdicts'
            )
    return failed


def echo_tables(study: str, csv: pathlib.Path | None) -> dict:
    """Print the comparison tables of ``study`` with the convergence verdicts (and write them as CSV); return
    them.
    """
    import pandas as pd

    from aiida_qdots.query import compare, composition_summary

    tables = compare(study)
    if not tables:
        raise click.ClickException(f'study {study!r} has no finished results yet; see `aiida-qdots status`')
    with pd.option_context('display.max_columns', None, 'display.width', 200, 'display.float_format', '{:.4g}'.format):
        for name, table in tables.items():
            click.echo(f'\n{name} ({len(table)} rows; node UUIDs and verdict reasons in the CSV)')
            click.echo(shown_table(name, table).to_string(index=False))
            if name == 'configurations' and table['composition'].nunique() > 1:
                click.echo('\nper composition: mean and std over configurations')
                click.echo(composition_summary(table).to_string())
    if 'configurations' in tables:
        echo_verdicts(tables['configurations'])
    if csv is not None:
        for name, table in tables.items():
            path = csv if len(tables) == 1 else csv.with_name(f'{csv.stem}_{name}{csv.suffix}')
            table.to_csv(path, index=False)
            click.echo(f'wrote {path}')
    return tables


@cli.command('compare')
@STUDY_GROUP
@click.option(
    '--csv',
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=None,
    callback=writable_path,
    help='Also write the table(s) as CSV (several tables: <name>_<table>.csv).',
)
@with_profile
def compare_command(group_label, csv):
    """Compare a study's configurations side by side (RMSF, HOMO/LUMO/gap, dephasing, NAC, recombination, each with
    its convergence verdict; d<u^2>/dT and lifetimes per nanocrystal; tau_AR and trapping time per UED set)."""
    echo_tables(study_of(group_label), csv)


def _exit_text(exit_status) -> str:
    """`` [N]`` for a non-zero exit status (pandas gives NaN for a process without one)."""
    return f' [{exit_status:g}]' if exit_status == exit_status and exit_status else ''


@cli.command('status')
@STUDY_GROUP
@with_profile
def status_command(group_label):
    """Progress of a study: state of every configuration and stage, and the convergence of the finished results."""
    from aiida_qdots.query import configuration_table, status_table, study_processes
    from aiida_qdots.workchains.study import configuration_key

    study = study_of(group_label)
    table = status_table(study)
    for node in study_processes(study):
        state = node.process_state.value if node.process_state else 'created'
        exit_text = f', exit status {node.exit_status}: {node.exit_message}' if node.exit_status else ''
        click.echo(f'{node.process_label}<{node.pk}> {state}{exit_text}')
        rows = table[table['study_pk'] == node.pk]
        for entry, entry_rows in rows.groupby('entry', sort=False):
            steps = [
                f'{row.stage} {row.state}{_exit_text(row.exit_status)} <{row.pk}>' for row in entry_rows.itertuples()
            ]
            click.echo(f'  {entry:32s} {steps[0].split(" ", 1)[1]}  ' + ', '.join(steps[1:]))
        if 'compositions' in node.inputs:
            expected = [
                configuration_key(c, a)
                for c in node.inputs.compositions.get_list()
                for a in node.inputs.arrangements.get_list()
            ]
            for entry in [e for e in expected if e not in set(rows['entry'])]:
                click.echo(f'  {entry:32s} waiting')
    finished = configuration_table(study)
    if not finished.empty:
        echo_verdicts(finished)


@cli.command('export')
@STUDY_GROUP
@click.argument('output', type=click.Path(dir_okay=False, path_type=pathlib.Path), callback=writable_path)
@click.option('--overwrite', is_flag=True, help='Replace OUTPUT if it exists.')
@with_profile
def export_command(group_label, output, overwrite):
    """Write a study (all its groups, with full provenance, logs and comments) to an AiiDA archive."""
    from aiida_qdots.sharing import export_study

    if output.exists() and not overwrite:
        raise click.ClickException(f'{output} exists; give --overwrite to replace it')
    summary = export_study(study_of(group_label), output)
    click.echo(
        f'wrote {output}: {summary["groups"]} groups, {summary["filed"]} filed nodes, '
        f'{summary["nodes"]} nodes with their provenance'
    )
