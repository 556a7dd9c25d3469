"""``aiida-qdots import``: store foreign trajectories and per-frame orbital energies."""

import pathlib

import click

from aiida_qdots.cli import cli
from aiida_qdots.cli.utils import echo_pk, with_profile
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.readers.trajectory import FORMATS


@cli.group('import')
def import_group():
    """Import foreign data (AIMD trajectories, orbital energies per frame) into the database."""


@import_group.command('trajectory')
@click.argument('path', type=click.Path(exists=True, path_type=pathlib.Path))
@click.option('--timestep', 'timestep', type=float, required=True, help='Time between stored frames, in fs.')
@click.option('--label', default=None, help='Label of the new node (default: the file name).')
@click.option(
    '--format', 'fmt', type=click.Choice(FORMATS), default=None, help='Trajectory format (default: from the name).'
)
@click.option(
    '--velocities',
    'velocity_path',
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    default=None,
    help='CP2K velocity file (default: the -vel- file beside a -pos- file, if any).',
)
@with_profile
def import_trajectory_command(path, timestep, label, fmt, velocity_path):
    """Store the trajectory at PATH (extxyz[.gz], folder of POSCARs, XDATCAR, CP2K -pos-1.xyz) and print its PK."""
    from aiida_qdots.structures.importers import import_trajectory

    try:
        node = import_trajectory(path, timestep, label=label, fmt=fmt, velocity_path=velocity_path)
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    echo_pk('TrajectoryData', node)


@import_group.command('levels')
@click.argument('csv_path', metavar='CSV', type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option('--trajectory', 'trajectory', required=True, help='PK or UUID of the imported TrajectoryData.')
@click.option('--stride', type=int, required=True, help='The CSV has one row every STRIDE trajectory frames.')
@click.option(
    '--first-frame',
    'first_frame',
    type=int,
    default=None,
    help='Frame number of the first row (default: from its label, e.g. st10001, else 1).',
)
@with_profile
def import_levels_command(csv_path, trajectory, stride, first_frame):
    """Store per-frame HOMO/LUMO energies (eV) from CSV, linked to a trajectory, and print the PK."""
    from aiida_qdots.structures.importers import import_levels

    ident = int(trajectory) if trajectory.isdigit() else trajectory
    try:
        node = import_levels(csv_path, ident, stride, first_frame=first_frame)
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    echo_pk('ArrayData', node)
