"""``aiida-qdots setup``: profile, computer and codes, idempotently."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import click
from aiida.manage.configuration import reset_config

from aiida_qdots.cli.root import cli

DEFAULT_PROFILE = 'qdots'
SERVICES_HINT = 'start the services with `bash scripts/services.sh start` (as root)'
RABBITMQ_ADVANCED_CONFIG = pathlib.Path('/etc/rabbitmq/advanced.config')
"""Where scripts/services.sh turns RabbitMQ's consumer timeout off, as AiiDA's documentation asks."""


def _read_text(path: pathlib.Path) -> str:
    try:
        return path.read_text(encoding='utf-8')
    except OSError:
        return ''


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


def _create_psql_profile(name: str) -> None:
    """A ``core.psql_dos`` profile with a ``core.rabbitmq`` broker, as ``verdi presto --use-postgres`` makes it:
    database and user ``aiida-<name>`` created on the local PostgreSQL through its superuser (pgsu), RabbitMQ on
    localhost with the default guest account. Unlike presto, a missing RabbitMQ is an error, not ZeroMQ.
    """
    from aiida.brokers.rabbitmq.defaults import detect_rabbitmq_config
    from aiida.cmdline.commands.cmd_presto import detect_postgres_config
    from aiida.manage.configuration import create_profile, get_config, get_config_option

    try:
        broker_config = detect_rabbitmq_config()
    except ConnectionError as exc:
        raise click.ClickException(f'no RabbitMQ broker on localhost ({exc}); {SERVICES_HINT}') from exc
    try:
        storage_config = detect_postgres_config(name, 'localhost', 5432, 'postgres', None, non_interactive=True)
    except ConnectionError as exc:
        raise click.ClickException(f'PostgreSQL: {exc}; {SERVICES_HINT}') from exc
    config = get_config()
    create_profile(
        config,
        name=name,
        email=get_config_option('autofill.user.email') or 'aiida@localhost',
        storage_backend='core.psql_dos',
        storage_config=storage_config,
        broker_backend='core.rabbitmq',
        broker_config=broker_config,
    )
    config.set_option('runner.poll.interval', 1, scope=name)
    if 'consumer_timeout' in _read_text(RABBITMQ_ADVANCED_CONFIG):
        config.set_option('warnings.rabbitmq_version', False, scope=name)  # the only issue of RabbitMQ >= 3.8.15
    if config.default_profile_name is None:
        config.set_default_profile(name)
    config.store()


@cli.command('setup')
@click.option(
    '--profile-name',
    default=None,
    help='Profile to create or reuse (default: the root --profile, else the default profile, '
    f'else "{DEFAULT_PROFILE}").',
)
@click.option(
    '--backend',
    type=click.Choice(['sqlite', 'psql']),
    default='sqlite',
    show_default=True,
    help='Storage of a profile this command creates. sqlite: `verdi presto` (SQLite, ZeroMQ broker, no '
    'services). psql: core.psql_dos on the local PostgreSQL with a core.rabbitmq broker, for several '
    'daemon workers (services: scripts/services.sh). An existing profile is used as it is.',
)
@click.option(
    '--computer',
    'computer_label',
    default='localhost',
    show_default=True,
    help='Computer to register the codes on; created if missing: "slurm" is the local SLURM cluster '
    '(core.local + core.slurm, scripts/services.sh), any other label core.local + core.direct.',
)
@click.option(
    '--computer-config',
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    default=None,
    help='YAML file describing a remote cluster (hostname, core.ssh options, scheduler, code paths; '
    'see docs/cluster.md): create and configure that computer and register its codes.',
)
@click.option(
    '--mpiprocs',
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default=True,
    help='MPI ranks per job on a local core.direct computer (on slurm: the CPUs of the SLURM node).',
)
@click.pass_context
def setup(ctx, profile_name, backend, computer_label, computer_config, mpiprocs):
    """Create or reuse a profile and register cp2k, lammps and qdots-python on a computer.

    Safe to run again: existing profiles, computers and codes are reused and reported.
    """
    from aiida import load_profile

    from aiida_qdots.common.errors import QdotsInputError
    from aiida_qdots.provisioning.codes import (
        CODES,
        LOCAL_POLL_INTERVAL,
        add_job_timing,
        get_or_create_code,
        get_or_create_localhost,
        use_plain_shell,
    )
    from aiida_qdots.provisioning.computers import (
        SLURM_LABEL,
        get_or_create_cluster,
        get_or_create_local_slurm,
        read_cluster_config,
    )

    if computer_config is not None and ctx.get_parameter_source('computer_label') != click.core.ParameterSource.DEFAULT:
        raise click.UsageError('give --computer or --computer-config, not both')
    cluster = read_cluster_config(computer_config) if computer_config is not None else None
    names, default = _profile_names()
    name = profile_name or ctx.find_root().obj.get('profile') or default or DEFAULT_PROFILE
    if name in names:
        click.echo(f'profile: using existing profile {name!r}')
    elif backend == 'psql':
        _create_psql_profile(name)
        click.echo(f'profile: created {name!r} (core.psql_dos storage, database aiida-{name}; core.rabbitmq broker)')
    else:
        _create_presto_profile(name)
        click.echo(f'profile: created {name!r} with `verdi presto` (SQLite storage, ZeroMQ broker, no services)')
    load_profile(name, allow_switch=True)

    if cluster is not None:
        computer, created = get_or_create_cluster(cluster)
        executables = cluster.codes
    else:
        if computer_label == SLURM_LABEL:
            computer, created = get_or_create_local_slurm()
        else:
            computer, created = get_or_create_localhost(computer_label, mpiprocs=mpiprocs)
        executables = dict.fromkeys(CODES)
    if computer.hostname == 'localhost' and computer.scheduler_type == 'core.direct':
        if computer.get_default_mpiprocs_per_machine() != mpiprocs:
            previous = computer.get_default_mpiprocs_per_machine()
            click.echo(f'computer: {computer.label!r} ran {previous} MPI rank(s) per job; set to {mpiprocs}')
            computer.set_default_mpiprocs_per_machine(mpiprocs)  # presto's localhost starts at 1
        if computer.get_minimum_job_poll_interval() > LOCAL_POLL_INTERVAL:
            computer.set_minimum_job_poll_interval(LOCAL_POLL_INTERVAL)
            click.echo(f'computer: job-status polling every {LOCAL_POLL_INTERVAL:g} s')
        if use_plain_shell(computer):
            click.echo('computer: commands run in a plain shell (bash -c), not a login shell')
        if add_job_timing(computer):
            click.echo('computer: jobs write their start, end and CPU time to _scheduler-stdout.txt')
    click.echo(
        f'computer: {"created" if created else "using"} {computer.label!r} '
        f'({computer.transport_type} + {computer.scheduler_type} on {computer.hostname}, '
        f'{computer.get_default_mpiprocs_per_machine()} MPI ranks per job)'
    )
    for kind, executable in executables.items():
        try:
            code, created = get_or_create_code(kind, computer, executable)
        except QdotsInputError as exc:
            if not CODES[kind].optional:
                raise
            click.echo(f'code: skipped {CODES[kind].label} ({exc})')
            continue
        click.echo(f'code: {"registered" if created else "using"} {code.full_label} -> {code.filepath_executable}')
    if computer.transport_type != 'core.local':
        click.echo(f'check the connection with `verdi -p {name} computer test {computer.label}`')
    click.echo(f'ready: profile {name!r}; try `aiida-qdots -p {name} demo`')
