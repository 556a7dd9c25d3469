"""``aiida-qdots launch``: submit the package's workchains."""
from __future__ import annotations

import click

from aiida_qdots.cli import cli
from aiida_qdots.cli.utils import echo_pk, with_profile
from aiida_qdots.structures.clusters import COMPOSITIONS

PROTOCOL = click.Choice(['fast', 'moderate', 'precise'])
DAEMON = click.option('--daemon/--no-daemon', default=False, show_default=True,
                      help='Submit to the daemon and return, instead of running in this process.')


def launch_process(builder, daemon: bool, label: str):
    """Run ``builder`` here (blocking) or submit it to the daemon; print its PK and final state."""
    from aiida.engine import run_get_node, submit

    if daemon:
        node = submit(builder)
        echo_pk(f'{label} submitted', node)
        return node
    _, node = run_get_node(builder)
    echo_pk(label, node)
    click.echo(f'state: {node.process_state.value}, exit status {node.exit_status}'
               + (f' ({node.exit_message})' if node.exit_message else ''))
    return node


def parse_indices(_ctx, _param, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(v) for v in value.split(',') if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(f'expected comma-separated integers, got {value!r}') from exc


@cli.group('launch')
def launch():
    """Launch workchains on the registered codes."""


@launch.command('ligand-ranking')
@click.option('--composition', type=click.Choice(sorted(COMPOSITIONS)), required=True)
@click.option('--arrangements', callback=parse_indices, default=None,
              help='Comma-separated arrangement indices (default: all symmetry-distinct ones).')
@click.option('--protocol', type=PROTOCOL, default='fast', show_default=True)
@click.option('--relax/--no-relax', default=True, show_default=True, help='Relax each arrangement first.')
@click.option('--code', 'code_label', default='cp2k@localhost', show_default=True)
@click.option('--max-concurrent', type=click.IntRange(min=1), default=1, show_default=True)
@DAEMON
@with_profile
def ligand_ranking(composition, arrangements, protocol, relax, code_label, max_concurrent, daemon):
    """Rank ligand arrangements of a magic-size cluster by CP2K energy (configuration 0 = lowest)."""
    from aiida import orm

    from aiida_qdots.workchains.ligand_ranking import LigandRankingWorkChain

    builder = LigandRankingWorkChain.get_builder_from_protocol(
        orm.load_code(code_label), composition, arrangements, protocol=protocol, relax=relax,
        max_concurrent=max_concurrent,
    )
    node = launch_process(builder, daemon, 'ligand ranking')
    if node.is_finished and 'ranking' in node.outputs:
        for entry in node.outputs.ranking['ranking']:
            click.echo(f'configuration {entry["configuration"]}: arrangement {entry["arrangement"]} '
                       f'{entry["relative_energy_mev"]:8.1f} meV')
