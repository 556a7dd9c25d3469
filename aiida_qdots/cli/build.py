"""``aiida-qdots build``: store structures made by the package's builders (nanocrystals, magic-size clusters)."""

import click

from aiida_qdots.cli.root import cli
from aiida_qdots.cli.utils import echo_pk, with_profile
from aiida_qdots.structures.clusters import COMPOSITIONS

COMPOSITION = click.Choice(sorted(COMPOSITIONS), case_sensitive=False)


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
    from aiida_qdots.functions.nanocrystals import nanocrystal_structure

    node = nanocrystal_structure(
        diameter=10.0 * diameter,  # nm -> angstrom
        lattice=lattice,
        shell_monolayers=shell_monolayers,
        stoichiometry=stoichiometry,
        centre=centre,
        label=label,
    )
    recipe = node.base.extras.get('qdots')
    echo_pk('nanocrystal', node)
    click.echo(
        f'formula: {recipe["formula"]} ({recipe["n_atoms"]} atoms, cation excess {recipe["cation_excess"]:+d}, '
        f'core diameter {recipe["core_diameter_equivalent"] / 10:.2f} nm)'
    )


@build.command('arrangements')
@click.option('--composition', type=COMPOSITION, default='se-rich', show_default=True)
def arrangements(composition):
    """List the symmetry-distinct choices of the 2 bare surface sites (under Td)."""
    from aiida_qdots.structures.clusters import get_composition, ligand_arrangements

    recipe = get_composition(composition)
    options = ligand_arrangements(24 - recipe.n_ligands)
    total = sum(o.multiplicity for o in options)
    click.echo(f'{recipe.formula}: {total} arrangements, {len(options)} distinct under Td')
    click.echo(f'{"index":>5}  {"bare sites":>10}  {"multiplicity":>12}  {"bare-site distance (A)":>22}')
    for option in options:
        sites = ','.join(map(str, option.bare_sites))
        click.echo(f'{option.index:>5}  {sites:>10}  {option.multiplicity:>12}  {option.bare_site_distance:>22.3f}')


@build.command('cluster')
@click.option('--composition', type=COMPOSITION, required=True, help='se-rich = Cd17Se28H22, cd-rich = Cd28Se17Cl22.')
@click.option(
    '--arrangement',
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help='Symmetry-distinct ligand arrangement index (see `build arrangements`).',
)
@with_profile
def cluster(composition, arrangement):
    """Build a magic-size cluster and store it (through a calcfunction, so it has provenance)."""
    from aiida import orm

    from aiida_qdots.functions.clusters import build_cluster, cluster_extras
    from aiida_qdots.structures.clusters import build_magic_cluster

    build_magic_cluster(composition, arrangement)  # validate before anything is stored
    structure = build_cluster(orm.Str(composition), orm.Int(arrangement))
    structure.base.extras.set('qdots', cluster_extras(composition, arrangement))
    echo_pk('cluster', structure)
    click.echo(f'formula: {structure.get_formula()}')
