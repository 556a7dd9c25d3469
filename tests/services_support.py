"""Helpers of the tests that run processes through the daemon and the local SLURM cluster (no fixtures here: those
are in :mod:`services_fixtures`, which the test modules load with ``pytest_plugins``)."""

from __future__ import annotations

import subprocess
import time

import pytest

DAEMON_WORKERS = 2
DAEMON_TIMEOUT = 60
"""Seconds a daemon start or stop may take (AiiDA's default, 2 s, is too short on a loaded machine)."""


def wait_for_processes(nodes, timeout: float = 600.0, until=None) -> None:
    """Wait until every process node is terminated (or ``until()`` is true); fail with their states on timeout."""
    deadline = time.monotonic() + timeout
    while not (until() if until else all(node.is_terminated for node in nodes)):
        if time.monotonic() > deadline:
            states = ', '.join(f'{node.process_label}<{node.pk}> {node.process_state}' for node in nodes)
            pytest.fail(f'processes not done after {timeout:g} s: {states}')
        time.sleep(0.5)


def slurm_jobs() -> dict[str, str]:
    """Job id -> state of the jobs SLURM knows now (``squeue``)."""
    result = subprocess.run(['squeue', '--noheader', '--format=%i %T'], capture_output=True, text=True, check=True)
    return dict(line.split() for line in result.stdout.splitlines() if line.strip())
