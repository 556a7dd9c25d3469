"""``aiida-qdots reproduce``: run a seed study with the package's own simulations and write its validation report."""

from __future__ import annotations

import pathlib

import click

from aiida_qdots.cli.launch import overrides_option, parse_indices, protocol_option
from aiida_qdots.cli.root import cli
from aiida_qdots.cli.utils import echo_pk, node_option, with_profile, writable_path

CACHED_CALCJOBS = ('aiida.calculations:cp2k', 'aiida.calculations:qdots.*')
"""CalcJobs a re-run takes from the cache (identical inputs): CP2K segments and frame chunks, overlaps, DISH."""


def ensure_calcjob_caching() -> bool:
    """Enable caching of :data:`CACHED_CALCJOBS` in the current profile; True when the configuration changed."""
    from aiida.manage.configuration import get_config, get_config_option, get_profile

    enabled = list(get_config_option('caching.enabled_for') or [])
    missing = [identifier for identifier in CACHED_CALCJOBS if identifier not in enabled]
    if not missing:
        return False
    config = get_config()
    config.set_option('caching.enabled_for', enabled + missing, scope=get_profile().name)
    config.store()
    return True


def latest_study(label: str, process_label: str = 'StudyWorkChain'):
    """The newest workchain ``process_label`` (``qdots.study`` by default) labelled ``label``, or None."""
    from aiida import orm

    query = orm.QueryBuilder().append(
        orm.WorkflowNode, filters={'label': label, 'attributes.process_label': process_label}, project='*'
    )
    query.order_by({orm.WorkflowNode: {'ctime': 'desc'}})
    return query.first(flat=True)


def run_method_check(levels, protocol: str, cp2k_code, python_code) -> None:
    """GFN1-xTB ``qdots.electronic`` then ``qdots.namd`` (``protocol``) on the trajectory of ``levels``, one after the
    other, each unless a finished or running one exists; waits for both."""
    from aiida.engine import submit

    from aiida_qdots.cli.demo import follow
    from aiida_qdots.reports.method_check import reference_trajectory, runs_on
    from aiida_qdots.workchains.electronic import ElectronicWorkChain
    from aiida_qdots.workchains.namd import NamdWorkChain

    trajectory = reference_trajectory(levels)
    for stage, workchain in (('electronic', ElectronicWorkChain), ('namd', NamdWorkChain)):
        node = runs_on(trajectory, stage, finished_only=False)
        if node is None:
            if stage == 'electronic':
                builder = workchain.get_builder_from_protocol(cp2k_code, trajectory, protocol)
            else:
                builder = workchain.get_builder_from_protocol(cp2k_code, python_code, trajectory, protocol)
            node = submit(builder)
        echo_pk(f'method check: {stage} on trajectory <{trajectory.pk}>', node)
        follow(None, [node])


def how_it_ended(node) -> str:
    """How a terminated process that did not finish ended: 'was killed', 'excepted' or 'failed: exit status ...'."""
    if node.is_killed:
        return 'was killed'
    if node.is_excepted:
        return 'excepted'
    return f'failed: exit status {node.exit_status} {node.exit_message}'


def raise_if_unfinished(label: str, node) -> None:
    """One line and a non-zero exit when the study ``node`` ended without finishing (killed, excepted or failed)."""
    if node is not None and node.is_terminated and not node.is_finished_ok:
        raise click.ClickException(
            f'study {label!r}<{node.pk}> {how_it_ended(node)}; run the command again to resume it from the cache'
        )


def report_folder(default: str):
    """``--folder``: where the report (README.md) and its figures go."""
    return click.option(
        '--folder',
        type=click.Path(file_okay=False, path_type=pathlib.Path),
        default=pathlib.Path(default),
        show_default=True,
        callback=writable_path,
        help='Where the report (README.md) and its figures go.',
    )


@cli.group('reproduce')
def reproduce():
    """Reproduce a seed paper's findings with this package's own runs, and write the report."""


@reproduce.command('study-a')
@click.option('--label', default='reproduce-study-a', show_default=True, help='Study label (groups qdots/<label>).')
@click.option(
    '--arrangements',
    default='0',
    show_default=True,
    callback=parse_indices,
    help='Ligand arrangements of each composition (the paper: 0,1,2,3,4,5; run them in parts if you like).',
)
@protocol_option('study.yaml', default='workstation')
@report_folder('qdots-reproduction/study-a')
@node_option(
    '--method-check',
    'reference_levels',
    what='levels',
    node_types=('ArrayData',),
    description='imported level labels (aiida-qdots import levels)',
    help='Level labels of a foreign trajectory (e.g. the PBE Cd28Se17Cl22 AIMD, imported with `import trajectory` '
    'and `import levels`): after the study, GFN1-xTB levels and NAMD run on those nuclei and the report separates '
    'method from sampling.',
)
@click.option(
    '--vibrations/--no-vibrations',
    default=None,
    help='Run the vibrations (Raman) stage of the lowest arrangement (default: as the protocol says; workstation: '
    'yes, about an hour per composition on 2 cores).',
)
@click.option('--wait/--no-wait', default=True, show_default=True, help='Follow the run and write the report.')
@click.option('--report-only', is_flag=True, help='Write the report of what has finished; launch nothing.')
@click.option('--cp2k-code', default='cp2k@localhost', show_default=True)
@click.option('--python-code', default='qdots-python@localhost', show_default=True)
@with_profile
def reproduce_study_a(
    label, arrangements, protocol, folder, reference_levels, vibrations, wait, report_only, cp2k_code, python_code
):
    """Study A for Se-rich and Cd-rich clusters through qdots.study, then a report beside the paper's numbers.

    Safe to re-run after an interruption: a study of this label still running is followed, not relaunched; a
    failed or killed one is launched again with CP2K, overlap and DISH jobs taken from AiiDA's cache (enabled
    here for this profile), so finished stages are not recomputed. The workstation protocol takes about an
    hour per configuration on 2 cores (docs/validation-study-a.md).
    """
    from aiida import orm
    from aiida.engine import submit

    from aiida_qdots.cli.demo import ensure_daemon, follow
    from aiida_qdots.reports.study_a import write_report
    from aiida_qdots.workchains.study import StudyWorkChain

    node = latest_study(label)
    if not report_only:
        if ensure_calcjob_caching():
            click.echo(f'caching: enabled for {", ".join(CACHED_CALCJOBS)} in this profile')
            from aiida.engine.daemon.client import get_daemon_client

            if get_daemon_client().is_daemon_running:
                get_daemon_client().restart_daemon()  # workers read the caching option when they start
        if node is not None and not node.is_terminated:
            echo_pk(f'study {label!r} is running; following', node)
        elif node is not None and node.is_finished_ok:
            echo_pk(f'study {label!r} has finished', node)
        else:
            if node is not None:
                click.echo(f'study {label!r}<{node.pk}> {how_it_ended(node)}; launching again')
            builder = StudyWorkChain.get_builder_from_protocol(
                orm.load_code(cp2k_code),
                orm.load_code(python_code),
                label,
                ['se-rich', 'cd-rich'],
                arrangements,
                protocol,
                None if vibrations is None else {'vibrations': vibrations},
            )
            ensure_daemon()
            node = submit(builder)
            echo_pk('submitted qdots.study', node)
        if not wait:
            click.echo(f'follow it with `aiida-qdots status --group qdots/{label}`; then run this command again')
            return
        follow(label, [node])
        if reference_levels is not None:
            run_method_check(reference_levels, protocol, orm.load_code(cp2k_code), orm.load_code(python_code))
    path = write_report(label, folder, reference_levels)
    click.echo(f'report: {path}')
    raise_if_unfinished(label, node)


@reproduce.command('study-b')
@click.option('--label', default='reproduce-study-b', show_default=True, help='Study label (groups qdots/<label>).')
@protocol_option('study_b.yaml', default='workstation')
@report_folder('qdots-reproduction/study-b')
@overrides_option('the seed\'s 4.0 nm core for the lattice part: \'{"lattice": {"nanocrystal": {"diameter": 40.0}}}\'')
@click.option(
    '--daemon/--no-daemon',
    default=False,
    show_default=True,
    help='Submit to the daemon (started if needed) instead of running in this process.',
)
@click.option('--wait/--no-wait', default=True, show_default=True, help='With --daemon: follow the run and report.')
@click.option('--report-only', is_flag=True, help='Write the report of what has finished; launch nothing.')
@click.option('--code', 'code_label', default='lammps-phonon@localhost', show_default=True, help='LAMMPS code.')
@with_profile
def reproduce_study_b(label, protocol, folder, overrides, daemon, wait, report_only, code_label):
    """Study B through qdots.study_b: MSD(T), its slope, G(r) and dG(r) of the seed's eight-monolayer CdSe/CdS
    particle and mode lifetimes of a smaller one, then a report beside the seed's statements.

    Safe to re-run after an interruption: a run of this label still going is followed, not relaunched; a failed or
    killed one is launched again with its LAMMPS jobs taken from AiiDA's cache (enabled here for this profile). The
    workstation protocol's wall time on 2 cores is in docs/validation-study-b.md.
    """
    from aiida import orm
    from aiida.engine import run_get_node, submit

    from aiida_qdots.cli.demo import ensure_daemon, follow
    from aiida_qdots.workchains.study_b import StudyBWorkChain

    if not wait and not daemon:
        raise click.UsageError('--no-wait needs --daemon (a run in this process ends with the command)')
    node = latest_study(label, 'StudyBWorkChain')
    if not report_only:
        if node is not None and not node.is_terminated:
            echo_pk(f'study {label!r} is running; following', node)
            follow(None, [node])
        elif node is not None and node.is_finished_ok:
            echo_pk(f'study {label!r} has finished', node)
        else:
            builder = StudyBWorkChain.get_builder_from_protocol(orm.load_code(code_label), label, protocol, overrides)
            if ensure_calcjob_caching():
                click.echo(f'caching: enabled for {", ".join(CACHED_CALCJOBS)} in this profile')
            if node is not None:
                click.echo(f'study {label!r}<{node.pk}> {how_it_ended(node)}; launching again')
            if daemon:
                ensure_daemon()
                node = submit(builder)
                echo_pk('submitted qdots.study_b', node)
                if not wait:
                    click.echo(f'follow it with `aiida-qdots status --group qdots/{label}`; then run this again')
                    return
                follow(None, [node])
            else:
                click.echo(f'running qdots.study_b {label!r} in this process ({protocol})')
                node = run_get_node(builder).node
    from aiida_qdots.reports.study_b import write_report

    path = write_report(label, folder)
    click.echo(f'report: {path}')
    raise_if_unfinished(label, node)
