"""``aiida-qdots build``: store structures made by the package's builders."""

import click

from aiida_qdots.cli import cli
from aiida_qdots.cli.utils import echo_pk, with_profile


@cli.group('build')
def build():
    """Build structures (magic-size clusters, nanocrystals) and store them as StructureData."""


class StoichiometryType(click.ParamType):
    """``stoichiometric``, ``as-cut`` or an integer cation excess (n_Cd - n_anion, e.g. ``12`` or ``-4``)."""

    name = 'stoichiometric|as-cut|INTEGER'

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ('stoichiometric', 'as-cut'):
            return text
        try:
            return int(text)
        except ValueError:
            self.fail(f'{value!r} is not stoichiometric, as-cut or an integer cation excess', param, ctx)


@build.command('nanocrystal')
@click.option(
    '--diameter',
    required=True,
    type=click.FloatRange(min=0.0, min_open=True, max=20.0),
    help='Core diameter in nm (the sphere the core is cut from).',
)
@click.option(
    '--lattice',
    type=click.Choice(['wurtzite', 'zincblende']),
    default='wurtzite',
    show_default=True,
    help='Crystal structure of core and shell.',
)
@click.option(
    '--shell-monolayers',
    type=click.IntRange(min=0, max=20),
    default=0,
    show_default=True,
    help='Number of CdS monolayers (Cd-S bilayers) around the CdSe core.',
)
@click.option(
    '--stoichiometry',
    type=StoichiometryType(),
    default='stoichiometric',
    show_default=True,
    help='stoichiometric, as-cut, or an integer cation excess n_Cd - n_anion.',
)
@click.option(
    '--centre',
    type=click.Choice(['bond', 'cation', 'anion']),
    default='bond',
    show_default=True,
    help='Where the sphere is centred (a bond midpoint gives a stoichiometric particle as cut).',
)
@click.option('--label', default=None, help='Node label (default: composition, lattice, diameter, monolayers).')
@with_profile
def nanocrystal(diameter, lattice, shell_monolayers, stoichiometry, centre, label):
    """Build a CdSe (or CdSe/CdS core/shell) nanocrystal and store it as StructureData."""
    from aiida_qdots.common.errors import QdotsInputError
    from aiida_qdots.functions.nanocrystals import nanocrystal_structure

    try:
        node = nanocrystal_structure(
            diameter=10.0 * diameter,  # nm -> angstrom
            lattice=lattice,
            shell_monolayers=shell_monolayers,
            stoichiometry=stoichiometry,
            centre=centre,
            label=label,
        )
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    recipe = node.base.extras.get('qdots')
    echo_pk('nanocrystal', node)
    click.echo(
        f'formula: {recipe["formula"]} ({recipe["n_atoms"]} atoms, cation excess {recipe["cation_excess"]:+d}, '
        f'core diameter {recipe["core_diameter_equivalent"] / 10:.2f} nm)'
    )
