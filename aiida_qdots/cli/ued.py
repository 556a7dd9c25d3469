"""``aiida-qdots import ued``, ``launch ued`` and ``plot ued``: ultrafast electron diffraction data and its analysis."""

from __future__ import annotations

import pathlib

import click

from aiida_qdots.cli.importers import import_group
from aiida_qdots.cli.launch import DAEMON, PROTOCOL, launch, launch_process
from aiida_qdots.cli.plots import OUTPUT, _load, plot
from aiida_qdots.cli.utils import echo_pk, with_profile
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.output_keys import MSD_SLOPE_KEY, MSD_SLOPE_SOURCE_KEY, MSD_SLOPE_STDERR_KEY


@import_group.command('ued')
@click.argument('path', required=False, type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
@click.option('--synthetic', is_flag=True, help='Store the synthetic demo set of the forward model instead of a file.')
@click.option('--label', default=None, help='Label of the new node (default: the file name).')
@with_profile
def import_ued_command(path, synthetic, label):
    """Store UED intensities I/I0 per set, delay and peak (CSV/JSON, see docs/ued.md) and print the PK."""
    from aiida_qdots.data.ued import import_ued, synthetic_ued_node

    if bool(path) == synthetic:
        raise click.UsageError('give either a PATH or --synthetic')
    try:
        node = synthetic_ued_node() if synthetic else import_ued(path, label=label)
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    echo_pk('ArrayData (synthetic UED demo)' if synthetic else 'ArrayData (UED)', node)


def _msd_slope(phonons: str | None, slope: float | None, slope_err: float):
    """The d<u^2>/dT Dict: a qdots.phonons workchain's ``msd_slope`` output or that Dict, or a new one from values."""
    from aiida import orm

    if (phonons is None) == (slope is None):
        raise click.UsageError('give either --phonons PK or --slope VALUE')
    if slope is not None:
        return orm.Dict({MSD_SLOPE_KEY: slope, MSD_SLOPE_STDERR_KEY: slope_err, MSD_SLOPE_SOURCE_KEY: 'user value'})
    node = _load(phonons)
    if isinstance(node, orm.WorkflowNode):
        if 'msd_slope' not in node.outputs:
            raise click.ClickException(f'{node.process_label}<{node.pk}> has no msd_slope output')
        return node.outputs.msd_slope
    if not isinstance(node, orm.Dict):
        raise click.ClickException(f'node {node.pk} is neither a qdots.phonons workchain nor an msd_slope Dict')
    return node


@launch.command('ued')
@click.option('--data', 'data_pk', required=True, help='PK/UUID of the UED ArrayData (aiida-qdots import ued).')
@click.option('--phonons', default=None, help='qdots.phonons workchain (or its msd_slope Dict) giving d<u^2>/dT.')
@click.option(
    '--slope',
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help='d<u^2>/dT (3D, A^2/K) when no phonons node is given.',
)
@click.option(
    '--slope-err',
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help='Standard error of --slope (A^2/K).',
)
@click.option('--protocol', type=PROTOCOL, default='fast', show_default=True)
@DAEMON
@with_profile
def launch_ued(data_pk, phonons, slope, slope_err, protocol, daemon):
    """Debye-Waller fits -> lattice temperature -> Auger/trapping kinetic-model fit (qdots.ued)."""
    from aiida import orm

    from aiida_qdots.workchains.ued import UedWorkChain

    data = _load(data_pk)
    if not isinstance(data, orm.ArrayData):
        raise click.ClickException(f'node {data.pk} is not an ArrayData of UED intensities')
    try:
        builder = UedWorkChain.get_builder_from_protocol(data, _msd_slope(phonons, slope, slope_err), protocol)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    launch_process(builder, daemon, 'UedWorkChain')


@plot.command('ued')
@click.argument('pk')
@OUTPUT
@with_profile
def plot_ued_command(pk, output):
    """I/I0(t) per peak, -ln(I/I0) vs Q^2 with the Debye-Waller fits, and dT(t) with the model fit (qdots.ued PK)."""
    from aiida_qdots.plots.ued import plot_ued

    try:
        path = plot_ued(_load(pk), output)
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(path.resolve()))
