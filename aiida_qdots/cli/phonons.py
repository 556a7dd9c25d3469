"""``aiida-qdots launch phonons`` and ``plot phonons``: LAMMPS phonons of a (core/shell) nanocrystal."""

from __future__ import annotations

import click

from aiida_qdots.calculations.force_fields import FORCE_FIELDS
from aiida_qdots.cli.launch import DAEMON, PROTOCOL, launch, launch_process
from aiida_qdots.cli.plots import OUTPUT, _load, plot
from aiida_qdots.cli.utils import echo_pk, with_profile
from aiida_qdots.common.errors import QdotsInputError

STAGES = click.Choice(['modes', 'lifetimes', 'msd', 'pdf'])


@launch.command('phonons')
@click.option(
    '--diameter',
    type=click.FloatRange(min=0.5, max=20.0),
    default=None,
    help='Build a wurtzite CdSe core of this diameter (nm) ...',
)
@click.option(
    '--shell-monolayers',
    type=click.IntRange(min=0, max=20),
    default=0,
    show_default=True,
    help='... with this many CdS monolayers.',
)
@click.option('--structure', 'structure_pk', default=None, help='... or use this stored StructureData (PK/UUID).')
@click.option('--stages', type=STAGES, multiple=True, help='Stages to run (repeatable; default: all four).')
@click.option(
    '--force-field',
    type=click.Choice(sorted(FORCE_FIELDS)),
    default=None,
    help="Force field (default: the protocol's, sw_zhou2013; lj_coulomb_rabani2002 covers Cd and Se only).",
)
@click.option('--protocol', type=PROTOCOL, default='fast', show_default=True)
@click.option('--code', 'code_label', default='lammps@localhost', show_default=True)
@DAEMON
@with_profile
def launch_phonons(diameter, shell_monolayers, structure_pk, stages, force_field, protocol, code_label, daemon):
    """Normal modes, lifetimes, MSD(T) and G(r) of a nanocrystal with LAMMPS (qdots.phonons)."""
    from aiida import orm

    from aiida_qdots.functions.nanocrystals import nanocrystal_structure
    from aiida_qdots.workchains.phonons import PhononsWorkChain

    if (diameter is None) == (structure_pk is None):
        raise click.UsageError('give either --diameter (nm) or --structure PK')
    try:
        if structure_pk is None:
            structure = nanocrystal_structure(diameter=10.0 * diameter, shell_monolayers=shell_monolayers)
            echo_pk('nanocrystal', structure)
        else:
            structure = _load(structure_pk)
            if not isinstance(structure, orm.StructureData):
                raise click.ClickException(f'node {structure.pk} is not a StructureData')
        overrides = {'stages': list(stages)} if stages else {}
        if force_field:
            overrides['force_field'] = force_field
        builder = PhononsWorkChain.get_builder_from_protocol(orm.load_code(code_label), structure, protocol, overrides)
    except (QdotsInputError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    launch_process(builder, daemon, 'PhononsWorkChain')


@plot.command('phonons')
@click.argument('pk')
@OUTPUT
@with_profile
def plot_phonons_command(pk, output):
    """DOS, lifetimes vs frequency, MSD(T) with its slope and G(r)/dG(r) of a qdots.phonons workchain."""
    from aiida_qdots.plots.phonons import plot_phonons

    try:
        path = plot_phonons(_load(pk), output)
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(path.resolve()))
