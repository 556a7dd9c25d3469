"""``aiida-qdots launch``: submit the package's workchains."""

from __future__ import annotations

import contextlib

import click

from aiida_qdots.cli import cli
from aiida_qdots.cli.utils import echo_pk, with_profile
from aiida_qdots.structures.clusters import COMPOSITIONS

PROTOCOL = click.Choice(['fast', 'moderate', 'precise'])
DAEMON = click.option(
    '--daemon/--no-daemon',
    default=False,
    show_default=True,
    help='Submit to the daemon and return, instead of running in this process.',
)


@contextlib.contextmanager
def refusing_bad_input():
    """Builders and input validators refuse bad input with a ValueError (QdotsInputError, PortValidationError)
    before anything is stored, ``load_code`` an unknown code with NotExistent: print the message, no traceback."""
    from aiida.common.exceptions import MultipleObjectsError, NotExistent

    try:
        yield
    except (ValueError, NotExistent, MultipleObjectsError) as exc:
        raise click.ClickException(str(exc)) from exc


def launch_process(builder, daemon: bool, label: str):
    """Run ``builder`` here (blocking) or submit it to the daemon; print its PK and final state.

    Inputs are validated first: invalid ones end the command with their message and store nothing.
    """
    from aiida.engine import run_get_node, submit
    from aiida.engine.utils import instantiate_process
    from aiida.manage import get_manager

    if daemon:
        with refusing_bad_input():
            node = submit(builder)
        echo_pk(f'{label} submitted', node)
        return node
    with refusing_bad_input():
        process = instantiate_process(get_manager().get_runner(), builder)
    _, node = run_get_node(process)
    echo_pk(label, node)
    click.echo(
        f'state: {node.process_state.value}, exit status {node.exit_status}'
        + (f' ({node.exit_message})' if node.exit_message else '')
    )
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
@click.option(
    '--arrangements',
    callback=parse_indices,
    default=None,
    help='Comma-separated arrangement indices (default: all symmetry-distinct ones).',
)
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

    with refusing_bad_input():
        builder = LigandRankingWorkChain.get_builder_from_protocol(
            orm.load_code(code_label),
            composition,
            arrangements,
            protocol=protocol,
            relax=relax,
            max_concurrent=max_concurrent,
        )
    node = launch_process(builder, daemon, 'ligand ranking')
    if node.is_finished and 'ranking' in node.outputs:
        for entry in node.outputs.ranking['ranking']:
            click.echo(
                f'configuration {entry["configuration"]}: arrangement {entry["arrangement"]} '
                f'{entry["relative_energy_mev"]:8.1f} meV'
            )


def load_input_node(pk: int, node_type, option: str):
    """The ``node_type`` node with ``pk``; a click error on ``option`` naming what was found otherwise."""
    from aiida_qdots.common.errors import QdotsInputError
    from aiida_qdots.common.nodes import resolve_node

    try:
        return resolve_node(pk, node_type, option.lstrip('-'))
    except QdotsInputError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc


@launch.command('aimd')
@click.option('--structure', 'structure_pk', type=int, required=True, help='PK of the cluster (StructureData).')
@click.option('--protocol', type=PROTOCOL, default='fast', show_default=True)
@click.option('--relax/--no-relax', default=True, show_default=True, help='Optimise the geometry before the MD.')
@click.option('--code', 'code_label', default='cp2k@localhost', show_default=True)
@DAEMON
@with_profile
def aimd(structure_pk, protocol, relax, code_label, daemon):
    """AIMD of a cluster with CP2K: heating, NVT equilibration and NVE production (qdots.aimd)."""
    from aiida import orm

    from aiida_qdots.workchains.aimd import AimdWorkChain

    structure = load_input_node(structure_pk, orm.StructureData, '--structure')
    with refusing_bad_input():
        builder = AimdWorkChain.get_builder_from_protocol(
            orm.load_code(code_label), structure, protocol=protocol, overrides={'relax': relax}
        )
    node = launch_process(builder, daemon, 'aimd')
    if node.is_finished_ok:
        trajectory = node.outputs.trajectory
        click.echo(f'production trajectory: PK {trajectory.pk} ({trajectory.numsteps} frames)')
        for block in node.outputs.checks['blocks']:
            click.echo(
                f'  {block["stage"]:>13} {block["ensemble"]} {block["target_temperature_K"]:5.0f} K: '
                f'mean {block["mean_temperature_K"]:6.1f} K'
            )


@launch.command('electronic')
@click.option('--trajectory', 'trajectory_pk', type=int, required=True, help='PK of a TrajectoryData.')
@click.option('--protocol', type=PROTOCOL, default='fast', show_default=True)
@click.option('--stride-fs', type=click.FloatRange(min=0, min_open=True), default=20.0, show_default=True)
@click.option(
    '--window-fs',
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help='Only the last WINDOW fs (default: the protocol, 10 ps).',
)
@click.option('--chunk-frames', type=click.IntRange(min=1), default=None, help='Frames per CP2K job.')
@click.option('--code', 'code_label', default='cp2k@localhost', show_default=True)
@DAEMON
@with_profile
def electronic(trajectory_pk, protocol, stride_fs, window_fs, chunk_frames, code_label, daemon):
    """HOMO/LUMO/gap of trajectory frames with CP2K REFTRAJ (qdots.electronic)."""
    from aiida import orm

    from aiida_qdots.workchains.electronic import ElectronicWorkChain

    trajectory = load_input_node(trajectory_pk, orm.TrajectoryData, '--trajectory')
    overrides = {'selection': {'stride_fs': stride_fs}}
    if window_fs is not None:
        overrides['selection']['window_fs'] = window_fs
    if chunk_frames is not None:
        overrides['chunk_frames'] = chunk_frames
    with refusing_bad_input():
        builder = ElectronicWorkChain.get_builder_from_protocol(
            orm.load_code(code_label), trajectory, protocol, overrides
        )
    node = launch_process(builder, daemon, 'electronic')
    if node.is_finished_ok:
        stats = node.outputs.statistics
        for name in ('homo', 'lumo', 'gap'):
            click.echo(f'{name:>5}: {stats[name]["mean_ev"]:9.4f} +- {stats[name]["std_ev"]:.4f} eV')


@launch.command('namd')
@click.option('--trajectory', 'trajectory_pk', type=int, required=True, help='PK of a TrajectoryData (every MD step).')
@click.option('--protocol', type=PROTOCOL, default='fast', show_default=True)
@click.option('--frames', type=click.IntRange(min=4), default=None, help='Window length in frames (default: protocol).')
@click.option('--cp2k-code', default='cp2k@localhost', show_default=True)
@click.option('--python-code', default='qdots-python@localhost', show_default=True)
@DAEMON
@with_profile
def namd(trajectory_pk, protocol, frames, cp2k_code, python_code, daemon):
    """NACs, dephasing and DISH recombination time over the last frames of a trajectory (qdots.namd)."""
    from aiida import orm

    from aiida_qdots.workchains.namd import NamdWorkChain

    trajectory = load_input_node(trajectory_pk, orm.TrajectoryData, '--trajectory')
    overrides = {'window': {'n_frames': frames}} if frames else {}
    with refusing_bad_input():
        builder = NamdWorkChain.get_builder_from_protocol(
            orm.load_code(cp2k_code), orm.load_code(python_code), trajectory, protocol, overrides
        )
    node = launch_process(builder, daemon, 'namd')
    if node.is_finished_ok:
        s = node.outputs.summary
        click.echo(
            f'mean |NAC| {s["mean_abs_nac_mev"]:.3f} meV; dephasing {s["decoherence_time_fs"]:.2f} fs '
            f'({s["decoherence_convention"]}); recombination {s["recombination_tau_ns"]} ns, '
            f'CI {s["recombination_ci_ns"]}'
        )
