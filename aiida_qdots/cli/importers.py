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
@click.option(
    '--stride',
    type=click.IntRange(min=1),
    required=True,
    help='The CSV has one row every STRIDE trajectory frames; rows of missing frames may be absent (the labels give '
    'the times).',
)
@click.option(
    '--first-frame',
    'first_frame',
    type=click.IntRange(min=0),
    default=None,
    help='Frame number of the first row (default: from its label, e.g. st10001, else 1).',
)
@with_profile
def import_levels_command(csv_path, trajectory, stride, first_frame):
    """Store per-frame HOMO/LUMO energies (eV) from CSV, linked to a trajectory, and print the PK."""
    from aiida_qdots.structures.importers import import_levels

    levels = import_levels(csv_path, trajectory, stride, first_frame=first_frame)
    echo_pk('ArrayData', levels)
    missing = levels.base.attributes.get('n_missing_frames', 0)
    if missing:
        click.echo(f'{missing} frame(s) of the stride grid have no row; the level analyses use exact time lags')


@import_group.command('ued')
@click.argument('path', required=False, type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option(
    '--synthetic',
    is_flag=True,
    help="Store the synthetic demo set at the seed's conditions instead of a file, made with the d<u^2>/dT of "
    '--phonons or --slope (the one the analysis will use).',
)
@node_option(
    '--frames',
    what='MD frames',
    node_types=('ArrayData',),
    default=None,
    help='With --synthetic: make patterns I(Q, t) by the diffraction forward model from the two MD states of a '
    "qdots.phonons run's pdf stage (give its `diffraction` output), heated between them by the MD, instead of a "
    'peak table.',
)
@slope_options
@click.option('--label', default=None, help='Label of the new node (default: the file name).')
@with_profile
def import_ued_command(path, synthetic, frames, phonons, slope, slope_err, label):
    """Store UED data and print the PK: patterns I(Q, t) per set (CSV with an `intensity` column, NPZ, HDF5) or
    peak intensities I/I0 per set, delay and peak (CSV/JSON); see docs/ued.md."""
    from aiida_qdots.data.ued import import_ued
    from aiida_qdots.data.ued_patterns import import_patterns
    from aiida_qdots.functions.ued import synthetic_ued
    from aiida_qdots.readers.ued_patterns import is_pattern_file

    if bool(path) == synthetic:
        raise click.UsageError('give either a PATH or --synthetic')
    if frames is not None and not synthetic:
        raise click.UsageError('--frames goes with --synthetic')
    if not synthetic:
        if is_pattern_file(path):
            echo_pk('ArrayData (UED patterns I(Q, t))', import_patterns(path, label=label))
        else:
            echo_pk('ArrayData (UED)', import_ued(path, label=label))
        return
    slope_node = msd_slope_node(phonons, slope, slope_err)
    if frames is None:
        echo_pk('ArrayData (synthetic UED demo)', synthetic_ued(slope_node))
        return
    from aiida import orm

    from aiida_qdots.functions.ued_patterns import md_states, synthetic_pattern_data

    if frames.creator is None or {'cold', 'hot'} - set(frames.creator.base.links.get_incoming().all_link_labels()):
        raise click.BadParameter('not the diffraction output of a qdots.phonons pdf stage', param_hint='--frames')
    states, options = md_states(frames)
    node = synthetic_pattern_data(msd_slope=slope_node, parameters=orm.Dict(options), **states)
    echo_pk('ArrayData (synthetic UED patterns)', node)


def check_archive(path: pathlib.Path) -> None:
    """Refuse, in one line, a file that is no AiiDA archive: neither a zip file holding ``metadata.json`` nor a
    tar file (the legacy format, which AiiDA migrates)."""
    import tarfile
    import zipfile

    from aiida_qdots.common.validation import fail

    if tarfile.is_tarfile(path):
        return
    if not zipfile.is_zipfile(path):
        fail(path.name, None, 'not an AiiDA archive (a zip file with metadata.json)', 'format')
    with zipfile.ZipFile(path) as archive:
        if 'metadata.json' not in archive.namelist():
            fail(path.name, None, 'a zip file without metadata.json: not an AiiDA archive', 'format')


@import_group.command('archive')
@click.argument('path', type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@with_profile
def import_archive_command(path):
    """Import a study archive (aiida-qdots export / verdi archive create); nothing is stored if it is invalid."""
    from aiida_qdots.sharing import import_study

    check_archive(path)
    imported = import_study(path)
    click.echo(
        f'imported {path}: studies {", ".join(imported) or "none"}; '
        f'compare with `aiida-qdots compare --group qdots/<study>`'
    )
