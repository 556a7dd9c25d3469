"""``aiida-qdots plot``: the figures of stored analysis nodes and of whole studies, as PNG files."""

from __future__ import annotations

import importlib
import pathlib

import click

from aiida_qdots.cli.root import cli
from aiida_qdots.cli.study import STUDY_GROUP, study_of
from aiida_qdots.cli.utils import QdotsNodeType, node_argument, with_profile, writable_path

OUTPUT = click.option(
    '--output',
    '-o',
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=None,
    callback=writable_path,
    help='PNG file to write (default: <figure>_<PK>.png in the working directory).',
)
MAX_WAVENUMBER = click.option(
    '--max-wavenumber',
    'max_cm1',
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help='Upper end of the wavenumber axis in cm^-1 (default: where 99.8% of the spectral weight lies).',
)
NODE_PLOTS = {
    'rmsf': (
        'aiida_qdots.plots.aimd:plot_rmsf',
        'Per-atom and per-element RMSF of the analysis NODE (the qdots.aimd_analysis workchain or an output of it).',
        (),
    ),
    'spectra': (
        'aiida_qdots.plots.aimd:plot_spectra',
        'Power spectra (total and per element) of the analysis NODE (the workchain or an output of it).',
        (MAX_WAVENUMBER,),
    ),
    'phonons': (
        'aiida_qdots.plots.phonons:plot_phonons',
        'DOS, lifetimes vs frequency, MSD(T) with its slope and G(r)/dG(r) of a qdots.phonons workchain NODE.',
        (),
    ),
    'raman-mode': (
        'aiida_qdots.plots.vibrations:plot_mode',
        'Displacement arrows of the mode nearest the main optical Raman peak (seed Fig. 2c; qdots.vibrations NODE).',
        (),
    ),
    'ued': (
        'aiida_qdots.plots.ued:plot_ued',
        'I/I0(t) per peak, -ln(I/I0) vs Q^2 with the Debye-Waller fits, and dT(t) with the model fit (qdots.ued NODE).',
        (),
    ),
    'ued-dg': (
        'aiida_qdots.plots.ued_dg:plot_ued_dg',
        'dG(r, t) with the MD dG overlaid, losses at 2.5/4.1/7.1 A, their ratio and dT(t) with exponential fits '
        '(seed Fig. 2c, 3b-c, 4a-b) of a qdots.ued NODE run on patterns I(Q, t).',
        (),
    ),
}
"""``plot NAME NODE``: the plotting function (``module:function``, called with the node, the output path and the
values of the extra options), the help text and the extra options."""
FIGURES = {
    'levels': 'HOMO/LUMO fluctuations against time (seed Fig. 3a); curves per NODE (qdots.electronic or levels).',
    'gap': 'HOMO-LUMO gap distributions (seed Fig. 4); one per NODE (qdots.electronic or levels).',
    'namd': 'Dephasing, DISH population and NAC histogram (seed Fig. 5a-c); one per NODE (qdots.namd or its outputs).',
}
"""``plot KIND NODE...``: the seed paper's Study A figures of several nodes (aiida_qdots.plots.namd.plot_figure)."""


@cli.group('plot')
def plot():
    """Figures from stored analysis nodes (PNG)."""


def _node_plot_command(name: str, plotter: str, help_text: str, options: tuple = ()):
    """``plot NAME NODE [-o PNG]``: draw one node with ``plotter`` and print the file's path."""

    @node_argument('node', name)
    @OUTPUT
    @with_profile
    def command(node, output, **options):
        module, function = plotter.split(':')
        path = getattr(importlib.import_module(module), function)(node, output, **options)
        click.echo(str(path.resolve()))

    for option in options:
        command = option(command)
    return plot.command(name, help=help_text)(command)


def _figure_command(kind: str, help_text: str):
    """``plot KIND NODE... [-o PNG]``: one Study A figure of several nodes."""

    @click.argument('nodes', nargs=-1, required=True, type=QdotsNodeType(kind), metavar='NODE...')
    @OUTPUT
    @with_profile
    def command(nodes, output):
        from aiida_qdots.plots.namd import plot_figure

        click.echo(str(plot_figure(kind, nodes, output).resolve()))

    return plot.command(kind, help=help_text)(command)


for _name, _spec in NODE_PLOTS.items():
    _node_plot_command(_name, *_spec)
for _kind, _help in FIGURES.items():
    _figure_command(_kind, _help)


@plot.command('raman')
@click.argument('nodes', nargs=-1, required=True, type=QdotsNodeType('vibrations'), metavar='NODE...')
@OUTPUT
@MAX_WAVENUMBER
@with_profile
def plot_raman_command(nodes, output, max_cm1):
    """Broadened Raman spectra of qdots.vibrations NODEs side by side with their main optical peaks (seed Fig. 2b)."""
    from aiida_qdots.plots.vibrations import plot_raman

    click.echo(str(plot_raman(list(nodes), output, max_cm1).resolve()))


@plot.command('raman-vs-aimd')
@node_argument('vibrations', 'vibrations', metavar='VIBRATIONS_NODE')
@node_argument('aimd', 'spectra', metavar='SPECTRA_NODE')
@OUTPUT
@MAX_WAVENUMBER
@click.option(
    '--tolerance',
    type=click.FloatRange(min=0),
    default=None,
    help='Largest difference of a peak pair in cm^-1 (default: the AIMD resolution or the Raman FWHM, the larger).',
)
@click.option(
    '--min-prominence',
    type=click.FloatRange(min=0, max=1, min_open=True),
    default=None,
    help="Smallest peak prominence as a fraction of the spectrum's maximum in the window (default 0.05).",
)
@click.option('--element', default=None, help="Compare with this element's AIMD power spectrum (default: the total).")
@with_profile
def plot_raman_vs_aimd_command(vibrations, aimd, output, max_cm1, tolerance, min_prominence, element):
    """Raman spectrum of a qdots.vibrations VIBRATIONS_NODE above the AIMD power spectrum of the same cluster
    (SPECTRA_NODE: a qdots.aimd_analysis workchain or its spectra output), peaks paired; prints the pairs in cm^-1.
    Stores nothing (the calcfunction compare_raman_aimd stores the table with provenance)."""
    from aiida_qdots.plots.vibrations import plot_raman_vs_aimd

    parameters = {'tolerance_cm1': tolerance, 'min_prominence': min_prominence, 'aimd_spectrum': element}
    path, table = plot_raman_vs_aimd(vibrations, aimd, output, {**parameters, 'window_cm1': [None, max_cm1]})
    click.echo(str(path.resolve()))
    click.echo(f'AIMD resolution {table["aimd_resolution_cm1"]:.1f} cm^-1; Raman (cm^-1)  AIMD (cm^-1)  difference')
    for row in table['pairs']:
        flag = '' if row['resolved'] else '  (not resolved)'
        click.echo(f'{row["raman_cm1"]:8.1f}  {row["aimd_cm1"]:8.1f}  {row["difference_cm1"]:+7.1f}{flag}')
    unpaired = {name: [f'{row[name + "_cm1"]:.1f}' for row in table[f'unpaired_{name}']] for name in ('raman', 'aimd')}
    click.echo(
        f'unpaired Raman: {", ".join(unpaired["raman"]) or "none"}; AIMD: {", ".join(unpaired["aimd"]) or "none"}'
    )


@plot.command('figure')
@click.argument('figure', type=click.Choice(['3a', '4', '5', 'phonons', 'ued']))
@STUDY_GROUP
@click.option(
    '--folder',
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=pathlib.Path('.'),
    show_default=True,
    callback=writable_path,
    help='Where the PNG files go.',
)
@with_profile
def plot_figure_command(figure, group_label, folder):
    """A seed paper's figure of a whole study from its stored nodes: 3a HOMO/LUMO, 4 gap distributions, 5 NAMD
    (Study A); phonons, ued (Study B, one file per nanocrystal / data set)."""
    from aiida_qdots.plots.study import plot_study_figure

    for path in plot_study_figure(study_of(group_label), figure, folder):
        click.echo(str(path.resolve()))
