"""``aiida-qdots setup``: profile, computer and codes, idempotently."""
from __future__ import annotations

import os
import subprocess
import sys

import click
from aiida.manage.configuration import reset_config

from aiida_qdots.cli import cli

DEFAULT_PROFILE = 'qdots'


def _profile_names() -> tuple[list[str], str | None]:
    from aiida.manage.configuration import get_config

    config = get_config(create=True)
    return [p.name for p in config.profiles], config.default_profile_name


def _create_presto_profile(name: str) -> None:
    """``verdi presto``: SQLite storage, ZeroMQ broker, no services; also configures ``localhost``."""
    command = [sys.executable, '-m', 'aiida', 'presto', '--profile-name', name, '--use-zeromq']
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise click.ClickException(f'`verdi presto` failed:\n{result.stdout}{result.stderr}')
    reset_config()  # presto wrote the configuration file from another process


@cli.command('setup')
@click.option('--profile-name', default=None,
              help='Profile to create or reuse (default: the root --profile, else the default profile, '
                   f'else "{DEFAULT_PROFILE}").')
@click.option('--computer', 'computer_label', default='localhost', show_default=True,
              help='Computer to register the codes on; created (core.local + core.direct) if missing.')
@click.option('--mpiprocs', type=click.IntRange(min=1), default=os.cpu_count() or 1, show_default=True,
              help='MPI ranks per job on a computer this command creates.')
@click.pass_context
def setup(ctx, profile_name, computer_label, mpiprocs):
    """Create or reuse an embedded profile and register cp2k@COMPUTER and lammps@COMPUTER.

    Safe to run again: existing profiles, computers and codes are reused and reported.
    """
    from aiida import load_profile

    from aiida_qdots.common.codes import CODES, LOCAL_POLL_INTERVAL, get_or_create_code, get_or_create_localhost
    from aiida_qdots.common.errors import QdotsInputError

    names, default = _profile_names()
    name = profile_name or ctx.find_root().obj.get('profile') or default or DEFAULT_PROFILE
    if name in names:
        click.echo(f'profile: using existing profile {name!r}')
    else:
        _create_presto_profile(name)
        click.echo(f'profile: created {name!r} with `verdi presto` (SQLite storage, ZeroMQ broker, no services)')
    load_profile(name, allow_switch=True)

    computer, created = get_or_create_localhost(computer_label, mpiprocs=mpiprocs)
    if computer.hostname == 'localhost' and computer.get_default_mpiprocs_per_machine() != mpiprocs:
        previous = computer.get_default_mpiprocs_per_machine()
        click.echo(f'computer: {computer.label!r} ran {previous} MPI rank(s) per job; set to {mpiprocs}')
        computer.set_default_mpiprocs_per_machine(mpiprocs)  # presto's localhost starts at 1
    if computer.hostname == 'localhost' and computer.get_minimum_job_poll_interval() > LOCAL_POLL_INTERVAL:
        computer.set_minimum_job_poll_interval(LOCAL_POLL_INTERVAL)
        click.echo(f'computer: job-status polling every {LOCAL_POLL_INTERVAL:g} s')
    click.echo(
        f'computer: {"created" if created else "using"} {computer.label!r} '
        f'({computer.transport_type} + {computer.scheduler_type}, '
        f'{computer.get_default_mpiprocs_per_machine()} MPI ranks per job)'
    )
    for kind in CODES:
        try:
            code, created = get_or_create_code(kind, computer)
        except QdotsInputError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f'code: {"registered" if created else "using"} {code.full_label} -> {code.filepath_executable}')
    click.echo(f'ready: profile {name!r}; try `aiida-qdots -p {name} demo`')
