"""``aiida-qdots demo``: the main job. Both studies at the fast protocol on this machine, then the comparison
table, the figures and the archive."""

from __future__ import annotations

import datetime
import pathlib
import time

import click

from aiida_qdots.cli.root import cli
from aiida_qdots.cli.utils import echo_pk, with_profile, writable_path
from aiida_qdots.common.errors import QdotsInputError

STUCK_SECONDS = 120.0
"""A submitted process still ``created`` after this long was never picked up by a daemon worker."""


def ensure_daemon() -> None:
    """Start one daemon worker unless the daemon already runs."""
    from aiida.engine.daemon.client import get_daemon_client

    client = get_daemon_client()
    if client.is_daemon_running:
        click.echo('daemon: running')
        return
    client.start_daemon(number_workers=1)
    click.echo('daemon: started with 1 worker')


ONE_RANK = {'options': {'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1}}}
"""Options of a job on one MPI rank. The demo's GFN1-xTB jobs (67 atoms) hardly gain from a second rank: the
Se-rich relaxation took 44 CPU-s on 1 rank and 114 CPU-s (103 s wall) on 2 ranks in the demo, where each rank
busy-waits in MPI whenever the other is descheduled (docs/performance.md). On 1 rank each, the two Study A
configurations and Study B's LAMMPS jobs share the cores without waiting on each other."""

STUDY_A_OVERRIDES = {
    'max_concurrent': 2,
    'stages': {'aimd': {**ONE_RANK, 'method': ONE_RANK}, 'electronic': ONE_RANK, 'namd': ONE_RANK},
}
"""Study A in the demo: both configurations at once, every CP2K job (the relaxation too) on one rank."""

IN_PROCESS_POLL = 0.2
"""Seconds between checks whether a child process ended, in this process (no broker tells: see :func:`run_here`).
Each check of each waiting process is a query: at 0.1 s the demo process used ~7 % of a core while it waited."""


def run_here(builders: list, together: bool) -> list:
    """Run the processes of ``builders`` in this interpreter, without a broker, at the same time (``together``) or
    one after the other; return their nodes.

    With no broker, a workchain learns that its child ended by polling (the profile's ``runner.poll.interval``,
    1 s for presto, waited at every level of nesting); here it polls every :data:`IN_PROCESS_POLL` s. Together, one
    event loop steps them all: while one waits for its job, the other's job or calcfunctions run. Ctrl-C kills them.
    """
    import asyncio
    import signal

    from aiida.engine import utils
    from aiida.manage import get_manager

    runner = get_manager().create_runner(communicator=None, poll_interval=IN_PROCESS_POLL)
    processes = []

    def kill(_signum, _frame):
        for process in processes:
            if not process.has_terminated() and not process.is_killing:
                process.kill(msg_text='killed because the demo received an interrupt')

    async def steps(batch):
        await asyncio.gather(*(process.step_until_terminated() for process in batch))

    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        for number in handlers:
            signal.signal(number, kill)
        with utils.loop_scope(runner.loop):
            for batch in [builders] if together else [[builder] for builder in builders]:
                started = [runner.instantiate_process(builder) for builder in batch]
                processes.extend(started)
                runner.loop.run_until_complete(steps(started))
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    return [process.node for process in processes]


def follow(study: str | None, nodes: list, poll: float = 5.0) -> None:
    """Print every state change of the study's processes (per configuration and stage) until ``nodes`` end; without
    ``study``, of ``nodes`` themselves."""
    from aiida_qdots.query import status_table

    start, seen = time.monotonic(), set()
    while True:
        if study:
            rows = [(r.entry, r.stage, r.pk, r.state) for r in status_table(study).itertuples()]
        else:
            rows = [
                (n.label, n.process_label, n.pk, n.process_state.value if n.process_state else 'created') for n in nodes
            ]
        for entry, stage, pk, state in rows:
            if (pk, state) not in seen:
                seen.add((pk, state))
                click.echo(f'  [{time.monotonic() - start:5.0f} s] {entry} {stage}<{pk}>: {state}')
        if all(node.is_terminated for node in nodes):
            return
        stuck = [node for node in nodes if node.process_state is None or node.process_state.value == 'created']
        if stuck and time.monotonic() - start > STUCK_SECONDS:
            raise click.ClickException(
                f'{", ".join(f"<{n.pk}>" for n in stuck)} never started: no daemon worker took them. Try '
                '`verdi daemon restart` and `verdi process repair`, or run the demo without --daemon'
            )
        time.sleep(poll)


@cli.command('demo')
@click.option('--label', default=None, help='Study label (default: demo-<date>-<time>).')
@click.option(
    '--folder',
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=pathlib.Path('qdots-demo'),
    show_default=True,
    callback=writable_path,
    help='Where the table (CSV), the figures (PNG) and the archive go.',
)
@click.option('--cp2k-code', default='cp2k@localhost', show_default=True)
@click.option('--lammps-code', default='lammps@localhost', show_default=True)
@click.option('--python-code', default='qdots-python@localhost', show_default=True)
@click.option(
    '--daemon/--no-daemon',
    default=False,
    show_default=True,
    help='Submit to the daemon (started if needed) and follow, instead of running in this process.',
)
@click.option(
    '--together/--one-after-the-other',
    default=True,
    show_default=True,
    help='Without --daemon: run Study A and Study B at the same time in this process (every job on one MPI rank: '
    'the two Study A configurations and Study B side by side), or Study B first, then Study A.',
)
@with_profile
def demo(label, folder, cp2k_code, lammps_code, python_code, daemon, together):
    """Both studies at the fast protocol (about 10 min on 2 cores), then table, figures and archive.

    Study A (qdots.study): Se-rich Cd17Se28H22 and Cd-rich Cd28Se17Cl22, ligand arrangement 0, each relaxed, AIMD
    at 300 K, HOMO/LUMO of the NVE frames and NAMD (GFN1-xTB, CP2K). Study B (qdots.lattice_study): a 2 nm CdSe
    core with one CdS monolayer (LAMMPS phonons: modes, lifetimes, MSD(T), G(r)) and the UED fit of the synthetic
    demo set at the seed's conditions, made from and analysed with that particle's d<u^2>/dT. Everything is filed
    under the group qdots/<label>. The table lists the
    convergence verdict of every Study A number: at the fast protocol they show that the pipeline runs, not
    converged physics.
    """
    from aiida import orm
    from aiida.engine import submit

    from aiida_qdots.cli.study import echo_tables
    from aiida_qdots.plots.study import FIGURE_STAGES, plot_study_figure
    from aiida_qdots.sharing import export_study
    from aiida_qdots.workchains.lattice_study import LatticeStudyWorkChain
    from aiida_qdots.workchains.study import StudyWorkChain

    label = label or f'demo-{datetime.datetime.now():%Y%m%d-%H%M%S}'
    start = time.monotonic()
    lattice = LatticeStudyWorkChain.get_builder_from_protocol(
        orm.load_code(lammps_code),
        label,
        [{'diameter': 20.0, 'shell_monolayers': 1}],
        protocol='fast',
        phonon_overrides={'num_mpiprocs': 1},
        ued_synthetic={},
    )
    study = StudyWorkChain.get_builder_from_protocol(
        orm.load_code(cp2k_code),
        orm.load_code(python_code),
        label,
        ['se-rich', 'cd-rich'],
        [0],
        'fast',
        STUDY_A_OVERRIDES,
    )
    click.echo(
        f'study {label!r}: qdots.lattice_study {"and" if together or daemon else "then"} qdots.study; progress below '
        f'(`aiida-qdots status --group qdots/{label}` from another shell)'
    )
    if daemon:
        ensure_daemon()
        nodes = [submit(lattice), submit(study)]
        for node in nodes:
            echo_pk(f'submitted {node.process_label}', node)
        follow(label, nodes)
    else:
        nodes = run_here([lattice, study], together)
    for node in nodes:
        state = 'finished' if node.is_finished_ok else f'FAILED: exit status {node.exit_status} {node.exit_message}'
        click.echo(f'{node.process_label}<{node.pk}>: {state}')

    folder.mkdir(parents=True, exist_ok=True)
    echo_tables(label, folder / 'comparison.csv')
    click.echo('\nfigures')
    for figure in FIGURE_STAGES:
        try:
            for path in plot_study_figure(label, figure, folder):
                click.echo(f'  {path}')
        except QdotsInputError as exc:  # a failed stage's figure must not hide the others
            click.echo(f'  figure {figure}: not made ({exc})')
    archive = folder / f'{label}.aiida'
    summary = export_study(label, archive)
    click.echo(
        f'\narchive: {archive} ({summary["groups"]} groups, {summary["filed"]} filed nodes, '
        f'{summary["nodes"]} nodes with provenance); import it elsewhere with '
        f'`aiida-qdots import archive {archive.name}`'
    )
    click.echo(f'demo done in {time.monotonic() - start:.0f} s')
    if not all(node.is_finished_ok for node in nodes):
        raise click.ClickException('a demo stage failed; see `verdi process report <PK>`')
