"""``aiida-qdots import``: store foreign trajectories, per-frame orbital energies, UED data and study archives."""

import pathlib

import click

from aiida_qdots.cli.launch import msd_slope_node, slope_options
from aiida_qdots.cli.root import cli
from aiida_qdots.cli.utils import echo_pk, node_option, with_profile
from aiida_qdots.readers.trajectory import FORMATS


@cli.group('import')
def import_group():
    """Import foreign data (AIMD trajectories, orbital energies per frame, UED, archives) into the database."""


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

    echo_pk('TrajectoryData', import_trajectory(path, timestep, label=label, fmt=fmt, velocity_path=velocity_path))


@import_group.command('levels')
@click.argument('csv_path', metavar='CSV', type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@node_option(
    '--trajectory',
    what='trajectory',
    node_types=('TrajectoryData',),
    required=True,
    help='The imported TrajectoryData (PK, UUID or label).',
)
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

    echo_pk('ArrayData', import_levels(csv_path, trajectory, stride, first_frame=first_frame))


@import_group.command('ued')
@click.argument('path', required=False, type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option(
    '--synthetic',
    is_flag=True,
    help="Store the synthetic demo set at the seed's conditions instead of a file, made with the d<u^2>/dT of "
    '--phonons or --slope (the one the analysis will use).',
)
@slope_options
@click.option('--label', default=None, help='Label of the new node (default: the file name).')
@with_profile
def import_ued_command(path, synthetic, phonons, slope, slope_err, label):
    """Store UED intensities I/I0 per set, delay and peak (CSV/JSON, see docs/ued.md) and print the PK."""
    from aiida_qdots.data.ued import import_ued
    from aiida_qdots.functions.ued import synthetic_ued

    if bool(path) == synthetic:
        raise click.UsageError('give either a PATH or --synthetic')
    if not synthetic:
        echo_pk('ArrayData (UED)', import_ued(path, label=label))
        return
    echo_pk('ArrayData (synthetic UED demo)', synthetic_ued(msd_slope_node(phonons, slope, slope_err)))


@import_group.command('archive')
@click.argument('path', type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@with_profile
def import_archive_command(path):
    """Import a study archive (aiida-qdots export / verdi archive create); nothing is stored if it is invalid."""
    from aiida_qdots.sharing import import_study

    imported = import_study(path)
    click.echo(
        f'imported {path}: studies {", ".join(imported) or "none"}; '
        f'compare with `aiida-qdots compare --group qdots/<study>`'
    )
