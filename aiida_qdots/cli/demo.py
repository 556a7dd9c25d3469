"""``aiida-qdots demo``: the demonstration run on the embedded profile, through the daemon."""
from __future__ import annotations

import time

import click

from aiida_qdots.cli import cli
from aiida_qdots.cli.utils import echo_pk, with_profile

DEMO_GROUP = 'qdots/demo'


def ensure_daemon() -> None:
    """Start one daemon worker unless the daemon already runs."""
    from aiida.engine.daemon.client import get_daemon_client

    client = get_daemon_client()
    if client.is_daemon_running:
        click.echo('daemon: running')
        return
    client.start_daemon(number_workers=1)
    click.echo('daemon: started with 1 worker')


def wait_for(nodes: dict, poll: float = 2.0, timeout: float = 3600.0) -> None:
    """Block until every process in ``nodes`` (label -> node) terminated, printing state changes."""
    start = time.monotonic()
    last: dict[str, str] = {}
    while True:
        for label, node in nodes.items():
            state = node.process_state.value if node.process_state else 'created'
            if last.get(label) != state:
                click.echo(f'  [{time.monotonic() - start:6.0f} s] {label}<{node.pk}>: {state}')
                last[label] = state
        if all(node.is_terminated for node in nodes.values()):
            return
        if time.monotonic() - start > timeout:
            raise click.ClickException(f'demo processes still running after {timeout:.0f} s; see `verdi process list`')
        time.sleep(poll)


@cli.command('demo')
@click.option('--cp2k-code', default='cp2k@localhost', show_default=True)
@click.option('--lammps-code', default='lammps@localhost', show_default=True)
@with_profile
def demo(cp2k_code, lammps_code):
    """Build the structures of both studies and run short real CP2K and LAMMPS jobs through the daemon.

    Stores the Se-rich and Cd-rich magic-size clusters, a 2 nm wurtzite CdSe nanocrystal, relaxes the
    Cd-rich cluster with GFN1-xTB (CP2K, `fast` protocol) and runs 2 ps of NVT + NVE MD of the
    nanocrystal with the Stillinger-Weber force field (LAMMPS). Everything goes into the group
    `qdots/demo`; run it again for a new set of nodes.
    """
    from aiida import orm
    from aiida.engine import submit

    from aiida_qdots.calculations.functions import build_cluster, cluster_extras
    from aiida_qdots.calculations.lammps_inputs import MDSettings, get_lammps_builder
    from aiida_qdots.structures.nodes import nanocrystal_structure
    from aiida_qdots.workchains.cluster_energy import ClusterEnergyWorkChain

    ensure_daemon()
    group, _ = orm.Group.collection.get_or_create(DEMO_GROUP)
    clusters = {}
    for composition in ('se-rich', 'cd-rich'):
        structure = build_cluster(orm.Str(composition), orm.Int(0))
        structure.base.extras.set('qdots', cluster_extras(composition, 0, protocol='fast'))
        clusters[composition] = structure
        echo_pk(f'{composition} cluster {structure.get_formula()}', structure)
    nanocrystal = nanocrystal_structure(diameter=20.0, lattice='wurtzite')
    echo_pk(f'nanocrystal {nanocrystal.get_formula()}', nanocrystal)

    cp2k = ClusterEnergyWorkChain.get_builder_from_protocol(
        orm.load_code(cp2k_code), clusters['cd-rich'], protocol='fast', relax=True
    )
    lammps = get_lammps_builder(
        orm.load_code(lammps_code), nanocrystal, settings=MDSettings(temperature=300.0, nvt_steps=1000, nve_steps=1000),
    )
    # One at a time: core.direct would start both at once on a 2-core machine.
    processes = {}
    for label, builder in (('cp2k relaxation', cp2k), ('lammps md', lammps)):
        node = submit(builder)
        echo_pk(f'submitted {label}', node)
        processes[label] = node
        wait_for({label: node})
    group.add_nodes([*clusters.values(), nanocrystal, *processes.values()])

    click.echo('\nresults')
    relax = processes['cp2k relaxation']
    if relax.is_finished_ok:
        click.echo(f'  Cd28Se17Cl22 GFN1-xTB relaxed energy: {relax.outputs.energy.value:.4f} eV')
    md = processes['lammps md']
    if md.is_finished_ok:
        results = md.outputs.results.get_dict()
        final = results['final_thermo']
        speed = ', '.join(f'{b["phase"]} {b["atom_steps_per_second"]:.2e}' for b in results['blocks'])
        click.echo(f'  {nanocrystal.get_formula()} SW MD: T = {final["Temp"]:.1f} K, E_tot = {final["TotEng"]:.4f} eV '
                   f'after {final["Time"]:g} ps; atom-steps/s: {speed}')
    failed = [label for label, node in processes.items() if not node.is_finished_ok]
    click.echo(f'  all nodes are in group {DEMO_GROUP!r}: `verdi group show {DEMO_GROUP}`')
    if failed:
        for label in failed:
            node = processes[label]
            click.echo(f'  {label}<{node.pk}> failed: exit status {node.exit_status} {node.exit_message or ""}')
        raise click.ClickException(f'demo finished with failures: {", ".join(failed)}; see `verdi process report`')
