"""Whole studies: ``launch study``, ``launch lattice-study``, ``compare``, ``status``, ``plot figure``, ``export`` and
``import archive``."""

from __future__ import annotations

import json
import pathlib

import click

from aiida_qdots.cli import cli
from aiida_qdots.cli.importers import import_group
from aiida_qdots.cli.launch import DAEMON, PROTOCOL, launch, launch_process, refusing_bad_input
from aiida_qdots.cli.plots import plot
from aiida_qdots.cli.utils import echo_pk, with_profile
from aiida_qdots.common.errors import QdotsInputError

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


def _nanocrystal(text: str) -> dict:
    """The recipe of one ``--nanocrystal D[:S]``; a usage error naming the option otherwise."""
    from aiida_qdots.workchains.lattice_study import nanocrystal_recipe

    try:
        return nanocrystal_recipe(text)
    except QdotsInputError as exc:
        raise click.BadParameter(str(exc), param_hint='--nanocrystal') from None


@launch.command('study')
@click.option('--label', 'study', required=True, help='Study label: its nodes go into the groups qdots/<label>/...')
@click.option(
    '--composition',
    'compositions',
    type=click.Choice(['se-rich', 'cd-rich']),
    multiple=True,
    default=('se-rich', 'cd-rich'),
    show_default=True,
    help='Cluster composition (repeatable).',
)
@click.option(
    '--arrangements',
    default='0',
    show_default=True,
    help='Comma-separated ligand-arrangement indices run for every composition (the paper: 0,1,2,3,4,5).',
)
@click.option('--protocol', type=PROTOCOL, default='fast', show_default=True)
@click.option(
    '--max-concurrent',
    type=click.IntRange(min=1),
    default=None,
    help="Configurations running at once (default: the protocol's).",
)
@click.option(
    '--overrides',
    default='{}',
    metavar='JSON',
    help='Merged into the protocol, e.g. \'{"stages": {"namd": {"window": {"n_frames": 40}}}}\'.',
)
@click.option('--cp2k-code', default='cp2k@localhost', show_default=True)
@click.option('--python-code', default='qdots-python@localhost', show_default=True)
@DAEMON
@with_profile
def launch_study(
    study, compositions, arrangements, protocol, max_concurrent, overrides, cp2k_code, python_code, daemon
):
    """Study A: AIMD -> electronic -> NAMD for every composition x ligand arrangement (qdots.study)."""
    from aiida import orm

    from aiida_qdots.workchains.study import StudyWorkChain

    try:
        indices = [int(a) for a in arrangements.split(',') if a.strip()]
    except ValueError:
        raise click.BadParameter(
            f'{arrangements!r} is not a comma-separated list of integers', param_hint='--arrangements'
        ) from None
    try:
        overrides = json.loads(overrides)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f'not JSON: {exc}', param_hint='--overrides') from None
    if max_concurrent:
        overrides['max_concurrent'] = max_concurrent
    with refusing_bad_input():
        builder = StudyWorkChain.get_builder_from_protocol(
            orm.load_code(cp2k_code),
            orm.load_code(python_code),
            study,
            list(compositions),
            indices,
            protocol,
            overrides,
        )
    node = launch_process(builder, daemon, 'study')
    click.echo(f'follow it with `aiida-qdots status --group qdots/{study}`')
    return node


@launch.command('lattice-study')
@click.option('--label', 'study', required=True, help='Study label: its nodes go into the groups qdots/<label>/...')
@click.option(
    '--nanocrystal',
    'nanocrystals',
    multiple=True,
    required=True,
    metavar='D[:S]',
    help='Wurtzite CdSe core of diameter D nm with S CdS shell monolayers, e.g. 2.2:1 (repeatable).',
)
@click.option(
    '--ued-data',
    'ued_pks',
    multiple=True,
    metavar='PK',
    help="UED data set (aiida-qdots import ued) to fit with the first nanocrystal's d<u^2>/dT (repeatable).",
)
@click.option('--protocol', type=PROTOCOL, default='fast', show_default=True)
@click.option('--code', 'code_label', default='lammps@localhost', show_default=True)
@DAEMON
@with_profile
def launch_lattice_study(study, nanocrystals, ued_pks, protocol, code_label, daemon):
    """Study B: phonons of each nanocrystal, then the UED kinetic fits (qdots.lattice_study)."""
    from aiida import orm

    from aiida_qdots.common.nodes import resolve_node
    from aiida_qdots.workchains.lattice_study import LatticeStudyWorkChain

    recipes = [_nanocrystal(text) for text in nanocrystals]
    with refusing_bad_input():
        data = {f'set_{index}': resolve_node(pk, orm.ArrayData, '--ued-data') for index, pk in enumerate(ued_pks)}
        builder = LatticeStudyWorkChain.get_builder_from_protocol(
            orm.load_code(code_label), study, recipes, data, protocol
        )
    for key, structure in builder.structures.items():
        echo_pk(f'nanocrystal {key} {structure.get_formula()}', structure)
    return launch_process(builder, daemon, 'lattice study')


def echo_tables(study: str, csv: pathlib.Path | None) -> dict:
    """Print the comparison tables of ``study`` (and write them as CSV); return them."""
    import pandas as pd

    from aiida_qdots.query import compare, composition_summary

    tables = compare(study)
    if not tables:
        raise click.ClickException(f'study {study!r} has no finished results yet; see `aiida-qdots status`')
    with pd.option_context('display.max_columns', None, 'display.width', 200, 'display.float_format', '{:.4g}'.format):
        for name, table in tables.items():
            shown = table.drop(columns=[c for c in table if c.endswith('_uuid')])
            click.echo(f'\n{name} ({len(table)} rows; node UUIDs in the CSV)')
            click.echo(shown.to_string(index=False))
            if name == 'configurations' and table['composition'].nunique() > 1:
                click.echo('\nper composition: mean and std over configurations')
                click.echo(composition_summary(table).to_string())
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
    help='Also write the table(s) as CSV (several tables: <name>_<table>.csv).',
)
@with_profile
def compare_command(group_label, csv):
    """Compare a study's configurations side by side (RMSF, HOMO/LUMO/gap, dephasing, NAC, recombination; d<u^2>/dT
    and lifetimes per nanocrystal; tau_AR and trapping time per UED set)."""
    echo_tables(study_of(group_label), csv)


def _exit_text(exit_status) -> str:
    """`` [N]`` for a non-zero exit status (pandas gives NaN for a process without one)."""
    return f' [{exit_status:g}]' if exit_status == exit_status and exit_status else ''


@cli.command('status')
@STUDY_GROUP
@with_profile
def status_command(group_label):
    """Progress of a study: state of every configuration and stage."""
    from aiida_qdots.query import status_table, study_processes
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


@plot.command('figure')
@click.argument('figure', type=click.Choice(['3a', '4', '5', 'phonons', 'ued']))
@STUDY_GROUP
@click.option(
    '--folder',
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=pathlib.Path('.'),
    show_default=True,
    help='Where the PNG files go.',
)
@with_profile
def plot_figure_command(figure, group_label, folder):
    """A seed paper's figure of a whole study from its stored nodes: 3a HOMO/LUMO, 4 gap distributions, 5 NAMD
    (Study A); phonons, ued (Study B, one file per nanocrystal / data set)."""
    from aiida_qdots.plots.study import plot_study_figure

    try:
        paths = plot_study_figure(study_of(group_label), figure, folder)
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    for path in paths:
        click.echo(str(path.resolve()))


@cli.command('export')
@STUDY_GROUP
@click.argument('output', type=click.Path(dir_okay=False, path_type=pathlib.Path))
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


@import_group.command('archive')
@click.argument('path', type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@with_profile
def import_archive_command(path):
    """Import a study archive (aiida-qdots export / verdi archive create); nothing is stored if it is invalid."""
    from aiida_qdots.sharing import import_study

    try:
        imported = import_study(path)
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f'imported {path}: studies {", ".join(imported) or "none"}; '
        f'compare with `aiida-qdots compare --group qdots/<study>`'
    )
