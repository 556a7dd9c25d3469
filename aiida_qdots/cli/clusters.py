"""``aiida-qdots build cluster`` and ``build arrangements``: the magic-size clusters of the first study."""

import click

from aiida_qdots.cli.build import build
from aiida_qdots.cli.utils import echo_pk, with_profile
from aiida_qdots.structures.clusters import COMPOSITIONS

COMPOSITION = click.Choice(sorted(COMPOSITIONS), case_sensitive=False)


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

    from aiida_qdots.common.errors import QdotsInputError
    from aiida_qdots.functions.clusters import build_cluster, cluster_extras
    from aiida_qdots.structures.clusters import build_magic_cluster

    try:
        build_magic_cluster(composition, arrangement)  # validate before anything is stored
    except QdotsInputError as exc:
        raise click.ClickException(str(exc)) from exc
    structure = build_cluster(orm.Str(composition), orm.Int(arrangement))
    structure.base.extras.set('qdots', cluster_extras(composition, arrangement))
    echo_pk('cluster', structure)
    click.echo(f'formula: {structure.get_formula()}')
