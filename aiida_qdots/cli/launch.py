"""``aiida-qdots launch``: build the package's workchains from their protocols and run or submit them."""

from __future__ import annotations

import json
import math

import click

from aiida_qdots.calculations.lammps.force_fields import FORCE_FIELDS
from aiida_qdots.cli.root import cli
from aiida_qdots.cli.utils import echo_pk, exit_if_failed, node_option, with_profile
from aiida_qdots.common.output_keys import MSD_SLOPE_KEY, MSD_SLOPE_SOURCE_KEY, MSD_SLOPE_STDERR_KEY
from aiida_qdots.protocols import load_protocol_file
from aiida_qdots.structures.clusters import COMPOSITIONS


def protocol_option(protocol_file: str, default: str | None = None):
    """``--protocol``: a choice of the protocols of ``protocol_file`` (aiida_qdots/protocols/); ``default``: the
    file's default protocol when None."""
    data = load_protocol_file(protocol_file)
    return click.option(
        '--protocol',
        type=click.Choice(list(data['protocols'])),
        default=default or data['default_protocol'],
        show_default=True,
    )


def overrides_option(example: str):
    """``--overrides``: a JSON object merged into the protocol; ``example`` completes the help."""
    return click.option(
        '--overrides',
        default='{}',
        metavar='JSON',
        callback=parse_json_object,
        help=f'Merged into the protocol, e.g. {example}.',
    )


DAEMON = click.option(
    '--daemon/--no-daemon',
    default=False,
    show_default=True,
    help='Submit to the daemon and return, instead of running in this process.',
)
PHONON_STAGES = click.Choice(['modes', 'lifetimes', 'msd', 'pdf'])


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange that also refuses nan and inf (which pass its comparisons)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f'{number} is not a finite number', param, ctx)
        return number


def launch_process(builder, daemon: bool, label: str, echo_results=None):
    """Run ``builder`` here (blocking) or submit it to the daemon; print its PK and final state.

    Invalid inputs end the command (ValueError) before anything is stored. In this process the workchain runs
    without a broker (as ``aiida.engine.run`` does), so it needs no services; ``echo_results(node)`` prints what
    the process made, and a failed process then ends the command with exit status 1 and its exit status. Submitting
    needs a running daemon: without one the command ends before anything is stored, naming the command that starts it.
    """
    from aiida.engine import run_get_node, submit
    from aiida.engine.utils import instantiate_process
    from aiida.manage import get_manager

    if daemon:
        require_daemon()
        node = submit(builder)
        echo_pk(f'{label} submitted', node)
        return node
    process = instantiate_process(get_manager().create_runner(communicator=None), builder)
    try:
        _, node = run_get_node(process)
    except Exception as exception:  # the process excepted: its node keeps the traceback, the user gets one line
        first = str(exception).splitlines()[0] if str(exception) else ''
        raise click.ClickException(
            f'{label}<{process.node.pk}> excepted ({type(exception).__name__}: {first}); '
            f'the traceback: `verdi process report {process.node.pk}`'
        ) from None
    echo_pk(label, node)
    click.echo(
        f'state: {node.process_state.value}, exit status {node.exit_status}'
        + (f' ({node.exit_message})' if node.exit_message else '')
    )
    if echo_results is not None:
        echo_results(node)
    exit_if_failed(node)
    return node


def require_daemon() -> None:
    """End the command unless the profile's daemon runs (a submitted process would wait for it forever, and a
    ZeroMQ profile's broker lives in the daemon)."""
    from aiida.engine.daemon.client import get_daemon_client

    client = get_daemon_client()
    if not client.is_daemon_running:
        raise click.ClickException(
            f'the daemon of profile {client.profile.name} is not running: start it with '
            f'`verdi -p {client.profile.name} daemon start`, or run in this process without --daemon'
        )


def checked(node):
    """``node`` (the StructureData or TrajectoryData given to a command) once its arrays pass the rules of
    :mod:`aiida_qdots.common.validation`: element symbols, finite and bounded positions (angstrom), interatomic
    distances, and frame labels and times that strictly increase."""
    from aiida import orm

    from aiida_qdots.common.validation import check_trajectory_arrays
    from aiida_qdots.structures.trajectory_nodes import trajectory_labels

    source = f'{type(node).__name__} {node.pk}'
    if isinstance(node, orm.StructureData):
        atoms = node.get_ase()
        check_trajectory_arrays(source, atoms.get_chemical_symbols(), atoms.positions[None])
    elif isinstance(node, orm.TrajectoryData):
        check_trajectory_arrays(
            source,
            list(node.symbols),
            node.get_positions(),
            velocities=node.get_velocities(),
            labels=trajectory_labels(node),
            times_fs=node.get_times(),
        )
    return node


def parse_json_object(_ctx, _param, value: str) -> dict:
    """A JSON object given on the command line (protocol overrides)."""
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f'not JSON: {exc}') from None
    if not isinstance(parsed, dict):
        raise click.BadParameter(f'{value!r} is not a JSON object')
    return parsed


def parse_indices(_ctx, _param, value: str | None) -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(v) for v in value.split(',') if v.strip()]
    except ValueError as exc:
        raise click.BadParameter(f'expected comma-separated integers, got {value!r}') from exc


def parse_nanocrystals(_ctx, _param, values: tuple[str, ...]) -> list[dict]:
    """The recipes of every ``--nanocrystal D[:S]``."""
    from aiida_qdots.common.errors import QdotsInputError
    from aiida_qdots.workchains.lattice_study import nanocrystal_recipe

    try:
        return [nanocrystal_recipe(text) for text in values]
    except QdotsInputError as exc:
        raise click.BadParameter(str(exc)) from None


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
@protocol_option('cluster_energy.yaml')
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
        orm.load_code(code_label),
        composition,
        arrangements,
        protocol=protocol,
        relax=relax,
        max_concurrent=max_concurrent,
    )

    def echo_ranking(node):
        if 'ranking' in node.outputs:
            for entry in node.outputs.ranking['ranking']:
                click.echo(
                    f'configuration {entry["configuration"]}: arrangement {entry["arrangement"]} '
                    f'{entry["relative_energy_mev"]:8.1f} meV'
                )

    launch_process(builder, daemon, 'ligand ranking', echo_ranking)


@launch.command('aimd')
@node_option(
    '--structure', what='structure', node_types=('StructureData',), required=True, help='The cluster (StructureData).'
)
@protocol_option('aimd.yaml')
@click.option('--relax/--no-relax', default=True, show_default=True, help='Optimise the geometry before the MD.')
@click.option('--code', 'code_label', default='cp2k@localhost', show_default=True)
@DAEMON
@with_profile
def aimd(structure, protocol, relax, code_label, daemon):
    """AIMD of a cluster with CP2K: heating, NVT equilibration and NVE production (qdots.aimd)."""
    from aiida import orm

    from aiida_qdots.analysis.convergence import verdict_text
    from aiida_qdots.workchains.aimd import AimdWorkChain

    builder = AimdWorkChain.get_builder_from_protocol(
        orm.load_code(code_label), checked(structure), protocol=protocol, overrides={'relax': relax}
    )

    def echo_trajectory(node):
        if not node.is_finished_ok:
            return
        trajectory = node.outputs.trajectory
        click.echo(f'production trajectory: PK {trajectory.pk} ({trajectory.numsteps} frames)')
        for block in node.outputs.checks['blocks']:
            stationarity = block.get('stationarity')
            click.echo(
                f'  {block["stage"]:>13} {block["ensemble"]} {block["target_temperature_K"]:5.0f} K: '
                f'mean {block["mean_temperature_K"]:6.1f} K'
                + (f'; {verdict_text(stationarity)}' if stationarity else '')
            )

    launch_process(builder, daemon, 'aimd', echo_trajectory)


@launch.command('electronic')
@node_option(
    '--trajectory', what='trajectory', node_types=('TrajectoryData',), required=True, help='The TrajectoryData.'
)
@protocol_option('electronic.yaml')
@click.option('--stride-fs', type=FiniteFloatRange(min=0, min_open=True), default=20.0, show_default=True)
@click.option(
    '--window-fs',
    type=FiniteFloatRange(min=0, min_open=True),
    default=None,
    help='Only the last WINDOW fs (default: the protocol, 10 ps).',
)
@click.option('--chunk-frames', type=click.IntRange(min=1), default=None, help='Frames per CP2K job.')
@click.option('--code', 'code_label', default='cp2k@localhost', show_default=True)
@DAEMON
@with_profile
def electronic(trajectory, protocol, stride_fs, window_fs, chunk_frames, code_label, daemon):
    """HOMO/LUMO/gap of trajectory frames with CP2K REFTRAJ (qdots.electronic)."""
    from aiida import orm

    from aiida_qdots.workchains.electronic import ElectronicWorkChain

    overrides = {'selection': {'stride_fs': stride_fs}}
    if window_fs is not None:
        overrides['selection']['window_fs'] = window_fs
    if chunk_frames is not None:
        overrides['chunk_frames'] = chunk_frames
    builder = ElectronicWorkChain.get_builder_from_protocol(
        orm.load_code(code_label), checked(trajectory), protocol, overrides
    )

    def echo_statistics(node):
        if node.is_finished_ok:
            stats = node.outputs.statistics
            for name in ('homo', 'lumo', 'gap'):
                click.echo(f'{name:>5}: {stats[name]["mean_ev"]:9.4f} +- {stats[name]["std_ev"]:.4f} eV')

    launch_process(builder, daemon, 'electronic', echo_statistics)


@launch.command('namd')
@node_option(
    '--trajectory',
    what='trajectory',
    node_types=('TrajectoryData',),
    required=True,
    help='The TrajectoryData (every MD step).',
)
@protocol_option('namd.yaml')
@click.option('--frames', type=click.IntRange(min=4), default=None, help='Window length in frames (default: protocol).')
@click.option('--cp2k-code', default='cp2k@localhost', show_default=True)
@click.option('--python-code', default='qdots-python@localhost', show_default=True)
@DAEMON
@with_profile
def namd(trajectory, protocol, frames, cp2k_code, python_code, daemon):
    """NACs, dephasing and DISH recombination time over the last frames of a trajectory (qdots.namd)."""
    from aiida import orm

    from aiida_qdots.workchains.namd import NamdWorkChain

    overrides = {'window': {'n_frames': frames}} if frames else {}
    builder = NamdWorkChain.get_builder_from_protocol(
        orm.load_code(cp2k_code), orm.load_code(python_code), checked(trajectory), protocol, overrides
    )

    def echo_summary(node):
        if node.is_finished_ok:
            s = node.outputs.summary
            click.echo(
                f'mean |NAC| {s["mean_abs_nac_mev"]:.3f} meV; dephasing {s["decoherence_time_fs"]:.2f} fs '
                f'({s["decoherence_convention"]}); recombination {s["recombination_tau_ns"]} ns, '
                f'CI {s["recombination_ci_ns"]}'
            )

    launch_process(builder, daemon, 'namd', echo_summary)


@launch.command('phonons')
@click.option(
    '--diameter',
    type=FiniteFloatRange(min=0.5, max=20.0),
    default=None,
    help='Build a wurtzite CdSe core of this diameter (nm) ...',
)
@click.option(
    '--shell-monolayers',
    type=click.IntRange(min=0, max=20),
    default=0,
    show_default=True,
    help='... with this many CdS monolayers.',
)
@node_option(
    '--structure', what='structure', node_types=('StructureData',), help='... or use this stored StructureData.'
)
@click.option('--stages', type=PHONON_STAGES, multiple=True, help='Stages to run (repeatable; default: all four).')
@click.option(
    '--force-field',
    type=click.Choice(sorted(FORCE_FIELDS)),
    default=None,
    help="Force field (default: the protocol's, sw_zhou2013; lj_coulomb_rabani2002 covers Cd and Se only).",
)
@protocol_option('phonons.yaml')
@click.option('--code', 'code_label', default='lammps@localhost', show_default=True)
@DAEMON
@with_profile
def launch_phonons(diameter, shell_monolayers, structure, stages, force_field, protocol, code_label, daemon):
    """Normal modes, lifetimes, MSD(T) and G(r) of a nanocrystal with LAMMPS (qdots.phonons)."""
    from aiida import orm

    from aiida_qdots.functions.nanocrystals import nanocrystal_structure
    from aiida_qdots.structures.nanocrystals import build_nanocrystal
    from aiida_qdots.workchains.phonons import PhononsWorkChain

    if (diameter is None) == (structure is None):
        raise click.UsageError('give either --diameter (nm) or --structure PK')
    code = orm.load_code(code_label)
    overrides = {'stages': list(stages)} if stages else {}
    if force_field:
        overrides['force_field'] = force_field
    if structure is not None:
        builder = PhononsWorkChain.get_builder_from_protocol(code, checked(structure), protocol, overrides)
    else:
        recipe = {'diameter': 10.0 * diameter, 'shell_monolayers': shell_monolayers}
        trial = orm.StructureData(ase=build_nanocrystal(**recipe))  # inputs refused before the nanocrystal is stored
        builder = PhononsWorkChain.get_builder_from_protocol(code, trial, protocol, overrides)
        builder.structure = nanocrystal_structure(**recipe)
        echo_pk('nanocrystal', builder.structure)
    launch_process(builder, daemon, 'PhononsWorkChain')


def slope_options(command):
    """The d<u^2>/dT options of a command: --phonons, or --slope with --slope-err."""
    options = [
        node_option(
            '--phonons', what='phonons', help='qdots.phonons workchain (or its msd_slope Dict) giving d<u^2>/dT.'
        ),
        click.option(
            '--slope',
            type=FiniteFloatRange(min=0, min_open=True),
            default=None,
            help='d<u^2>/dT (3D, A^2/K) when no phonons node is given.',
        ),
        click.option(
            '--slope-err',
            type=FiniteFloatRange(min=0),
            default=0.0,
            show_default=True,
            help='Standard error of --slope (A^2/K).',
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def msd_slope_node(phonons, slope: float | None, slope_err: float, data=None):
    """The d<u^2>/dT Dict: a qdots.phonons workchain's ``msd_slope`` output or that Dict, or a new one from values;
    with neither, the Dict a synthetic ``data`` set was made from (the one source of its slope)."""
    from aiida import orm

    made_from = (
        data.creator.inputs.msd_slope
        if data is not None and data.creator and 'msd_slope' in data.creator.inputs
        else None
    )
    if phonons is None and slope is None and made_from is not None:
        return made_from
    if (phonons is None) == (slope is None):
        raise click.UsageError('give either --phonons PK or --slope VALUE')
    if slope is not None:
        return orm.Dict({MSD_SLOPE_KEY: slope, MSD_SLOPE_STDERR_KEY: slope_err, MSD_SLOPE_SOURCE_KEY: 'user value'})
    if isinstance(phonons, orm.WorkflowNode):
        if 'msd_slope' not in phonons.outputs:
            raise click.ClickException(f'{phonons.process_label}<{phonons.pk}> has no msd_slope output')
        return phonons.outputs.msd_slope
    if not isinstance(phonons, orm.Dict):
        raise click.ClickException(f'node {phonons.pk} is neither a qdots.phonons workchain nor an msd_slope Dict')
    return phonons


@launch.command('ued')
@node_option(
    '--data',
    what='UED data',
    node_types=('ArrayData',),
    description='an ArrayData of UED intensities',
    required=True,
    help='The UED ArrayData (aiida-qdots import ued): peak table I(t)/I0 or patterns I(Q, t).',
)
@node_option(
    '--md-diffraction',
    'md_diffraction',
    what='MD diffraction',
    node_types=('ArrayData',),
    default=None,
    help='MD dG(r, dT) (a qdots.phonons diffraction output): overlaid, and the reference of the distortion estimate.',
)
@slope_options
@protocol_option('ued.yaml')
@overrides_option(
    'the cross-section of another pump wavelength: '
    '\'{"model": {"by_wavelength_nm": {"400": {"sigma_cm2": 1.2e-14, "sigma_rel_err": 0.3}}}}\''
)
@DAEMON
@with_profile
def launch_ued(data, md_diffraction, phonons, slope, slope_err, protocol, overrides, daemon):
    """Debye-Waller fits -> lattice temperature -> Auger/trapping kinetic-model fit (qdots.ued); patterns I(Q, t)
    also take the dG route (dG(r, t), losses at 2.5/4.1/7.1 A, their ratio, exponential fits). A synthetic set
    is analysed with the d<u^2>/dT it was made from unless --phonons or --slope says otherwise."""
    from aiida_qdots.workchains.ued import UedWorkChain

    slope_node = msd_slope_node(phonons, slope, slope_err, data)
    builder = UedWorkChain.get_builder_from_protocol(data, slope_node, protocol, overrides)
    if md_diffraction is not None:
        builder.md_diffraction = md_diffraction
    launch_process(builder, daemon, 'UedWorkChain')


@launch.command('study')
@click.option('--label', 'study', required=True, help='Study label: its nodes go into the groups qdots/<label>/...')
@click.option(
    '--composition',
    'compositions',
    type=click.Choice(['se-rich', 'cd-rich']),
    multiple=True,
    default=('se-rich', 'cd-rich'),
    show_default=True,
    help='Cluster composition (repeatable).',
)
@click.option(
    '--arrangements',
    default='0',
    show_default=True,
    callback=parse_indices,
    help='Comma-separated ligand-arrangement indices run for every composition (the paper: 0,1,2,3,4,5).',
)
@protocol_option('study.yaml')
@click.option(
    '--max-concurrent',
    type=click.IntRange(min=1),
    default=None,
    help="Configurations running at once (default: the protocol's).",
)
@overrides_option('\'{"stages": {"namd": {"window": {"n_frames": 40}}}}\'')
@click.option('--cp2k-code', default='cp2k@localhost', show_default=True)
@click.option('--python-code', default='qdots-python@localhost', show_default=True)
@DAEMON
@with_profile
def launch_study(
    study, compositions, arrangements, protocol, max_concurrent, overrides, cp2k_code, python_code, daemon
):
    """Study A: AIMD -> electronic -> NAMD for every composition x ligand arrangement (qdots.study)."""
    from aiida import orm

    from aiida_qdots.workchains.study import StudyWorkChain

    if max_concurrent:
        overrides['max_concurrent'] = max_concurrent
    builder = StudyWorkChain.get_builder_from_protocol(
        orm.load_code(cp2k_code),
        orm.load_code(python_code),
        study,
        list(compositions),
        arrangements,
        protocol,
        overrides,
    )
    click.echo(f'follow it with `aiida-qdots status --group qdots/{study}`')
    launch_process(builder, daemon, 'study')


@launch.command('lattice-study')
@click.option('--label', 'study', required=True, help='Study label: its nodes go into the groups qdots/<label>/...')
@click.option(
    '--nanocrystal',
    'nanocrystals',
    multiple=True,
    required=True,
    metavar='D[:S]',
    callback=parse_nanocrystals,
    help='Wurtzite CdSe core of diameter D nm with S CdS shell monolayers, e.g. 2.2:1 (repeatable).',
)
@node_option(
    '--ued-data',
    'ued_data',
    what='UED data',
    node_types=('ArrayData',),
    description='an ArrayData of UED intensities',
    multiple=True,
    help="UED data set (aiida-qdots import ued) to fit with the first nanocrystal's d<u^2>/dT (repeatable).",
)
@click.option(
    '--synthetic-ued',
    is_flag=True,
    help="Also fit the synthetic demo set at the seed's conditions, made with the first nanocrystal's d<u^2>/dT.",
)
@click.option(
    '--synthetic-patterns',
    is_flag=True,
    help='With --synthetic-ued: the demo set as patterns I(Q, t), made by the diffraction forward model from the '
    "first nanocrystal's MD frames (both routes: Debye-Waller and dG).",
)
@protocol_option('phonons.yaml')
@overrides_option('(of qdots.phonons, for every nanocrystal) \'{"stages": ["msd", "pdf"]}\'')
@click.option('--code', 'code_label', default='lammps@localhost', show_default=True)
@DAEMON
@with_profile
def launch_lattice_study(
    study, nanocrystals, ued_data, synthetic_ued, synthetic_patterns, protocol, overrides, code_label, daemon
):
    """Study B: phonons of each nanocrystal, then the UED kinetic fits (qdots.lattice_study)."""
    from aiida import orm

    from aiida_qdots.workchains.lattice_study import LatticeStudyWorkChain

    if synthetic_patterns and not synthetic_ued:
        raise click.UsageError('--synthetic-patterns goes with --synthetic-ued')
    if daemon:  # before the nanocrystals are stored
        require_daemon()
    data = {f'set_{index}': node for index, node in enumerate(ued_data)}
    builder = LatticeStudyWorkChain.get_builder_from_protocol(
        orm.load_code(code_label),
        study,
        nanocrystals,
        data,
        protocol,
        phonon_overrides=overrides,
        ued_synthetic=({'patterns': True} if synthetic_patterns else {}) if synthetic_ued else None,
    )
    for key, structure in builder.structures.items():
        echo_pk(f'nanocrystal {key} {structure.get_formula()}', structure)
    launch_process(builder, daemon, 'lattice study')
