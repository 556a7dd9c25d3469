"""``aiida-qdots plot``: the studies' figures from stored nodes, as PNG files."""

from __future__ import annotations

import pathlib

import click

from aiida_qdots.cli import cli
from aiida_qdots.cli.utils import with_profile
from aiida_qdots.common.errors import QdotsInputError

OUTPUT = click.option(
    '--output',
    '-o',
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=None,
    help='PNG file to write (default: <figure>_<PK>.png in the working directory).',
)


def _load(pk: str):
    from aiida import orm
    from aiida.common.exceptions import MultipleObjectsError, NotExistent

    try:
        return orm.load_node(int(pk) if pk.isdigit() else pk)
    except (NotExistent, MultipleObjectsError, ValueError) as exc:
        raise click.ClickException(f'no node {pk}: {exc}') from exc


@cli.group('plot')
def plot():
    """Figures from stored analysis nodes (PNG)."""


@plot.command('rmsf')
@click.argument('pk')
@OUTPUT
@with_profile
def plot_rmsf_command(pk, output):
    """Per-atom and per-element RMSF of the analysis PK (the qdots.aimd_analysis workchain or an output of it)."""
    from aiida_qdots.plots.aimd import plot_rmsf

    try:
        path = plot_rmsf(_load(pk), output)
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(path.resolve()))


@plot.command('spectra')
@click.argument('pk')
@OUTPUT
@click.option(
    '--max-wavenumber',
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help='Upper end of the wavenumber axis in cm^-1 (default: where 99.8% of the spectral weight lies).',
)
@with_profile
def plot_spectra_command(pk, output, max_wavenumber):
    """Power spectra (total and per element) of the analysis PK (the workchain or an output of it)."""
    from aiida_qdots.plots.aimd import plot_spectra

    try:
        path = plot_spectra(_load(pk), output, max_cm1=max_wavenumber)
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(path.resolve()))


def _study_a_figure(kind: str, pks: tuple[str, ...], output) -> None:
    from aiida_qdots.plots.namd import plot_figure

    try:
        path = plot_figure(kind, [_load(pk) for pk in pks], output)
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(path.resolve()))


@plot.command('levels')
@click.argument('pks', nargs=-1, required=True)
@OUTPUT
@with_profile
def plot_levels_command(pks, output):
    """HOMO/LUMO fluctuations against time (seed Fig. 3a); one curve set per PK (qdots.electronic or levels)."""
    _study_a_figure('levels', pks, output)


@plot.command('gap')
@click.argument('pks', nargs=-1, required=True)
@OUTPUT
@with_profile
def plot_gap_command(pks, output):
    """HOMO-LUMO gap distributions (seed Fig. 4); one per PK (qdots.electronic or levels)."""
    _study_a_figure('gap', pks, output)


@plot.command('namd')
@click.argument('pks', nargs=-1, required=True)
@OUTPUT
@with_profile
def plot_namd_command(pks, output):
    """Dephasing, DISH population and NAC histogram (seed Fig. 5a-c); one per PK (qdots.namd or its outputs)."""
    _study_a_figure('namd', pks, output)
