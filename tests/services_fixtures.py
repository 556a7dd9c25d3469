"""Fixtures of the tests that need the services (PostgreSQL, RabbitMQ, SLURM) and a daemon; a pytest plugin that
the test modules load with ``pytest_plugins = ['services_fixtures']``.

``services`` starts everything with ``scripts/services.sh`` (skipped only when the services are not installed and
this is not CI); ``service_profile`` makes a core.psql_dos + core.rabbitmq profile with ``aiida-qdots setup
--backend psql --computer slurm``, starts a daemon with 2 workers, and deletes profile, database and database user
afterwards.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import shutil
import subprocess

import pytest
from services_support import DAEMON_TIMEOUT, DAEMON_WORKERS

SERVICES_SCRIPT = pathlib.Path(__file__).resolve().parents[1] / 'scripts' / 'services.sh'
SERVICE_BINARIES = ('pg_ctlcluster', 'rabbitmq-server', 'munged', 'slurmctld', 'slurmd')


def _services_script(command: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        ['bash', str(SERVICES_SCRIPT), command], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope='session')
def services():
    """PostgreSQL, RabbitMQ, munge and the one-node SLURM cluster, running (``scripts/services.sh start``).

    In CI (``CI=true``) the script installs what is missing and any failure fails the tests; elsewhere the tests
    are skipped when the services are not installed.
    """
    in_ci = os.environ.get('CI', '').lower() == 'true'
    missing = [name for name in SERVICE_BINARIES if shutil.which(name) is None]
    if missing and not in_ci:
        pytest.skip(
            f'services not installed ({", ".join(missing)} not on PATH); '
            'install them with `sudo bash scripts/services.sh install`'
        )
    if _services_script('status', 60).returncode == 0:
        return
    result = _services_script('start', 900)
    if result.returncode != 0:
        pytest.fail(f'`scripts/services.sh start` failed ({result.returncode}):\n{result.stdout}{result.stderr}')


@pytest.fixture(scope='module')
def service_profile(services, aiida_profile):
    """A core.psql_dos + core.rabbitmq profile from ``aiida-qdots setup --backend psql --computer slurm``, loaded
    in this process, with a daemon of :data:`DAEMON_WORKERS` workers; the test profile is restored afterwards."""
    from aiida.engine.daemon.client import get_daemon_client
    from aiida.manage import get_manager
    from aiida.manage.configuration import get_config
    from aiida.manage.external.postgres import Postgres
    from click.testing import CliRunner

    from aiida_qdots.cli import cli

    manager = get_manager()
    name = f'qdots-services-{secrets.token_hex(4)}'
    result = CliRunner().invoke(cli, ['setup', '--backend', 'psql', '--profile-name', name, '--computer', 'slurm'])
    assert result.exit_code == 0, result.output
    profile = manager.get_profile()
    assert profile.name == name
    client = get_daemon_client(name)
    try:
        client.start_daemon(number_workers=DAEMON_WORKERS, timeout=DAEMON_TIMEOUT)
        yield profile
    finally:
        if client.is_daemon_running:
            client.stop_daemon(wait=True, timeout=DAEMON_TIMEOUT)
        manager.load_profile(aiida_profile.name, allow_switch=True)
        postgres = Postgres.from_profile(profile)
        postgres.execute(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '  # pooled leftovers
            f"'{profile.storage_config['database_name']}' AND pid <> pg_backend_pid()"
        )
        get_config().delete_profile(name, delete_storage=True)
        postgres.drop_dbuser(profile.storage_config['database_username'])
