"""Running the ``examples/`` scripts the way users do: ``verdi -p <profile> run examples/<name>.py ARGS``."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / 'examples'


def verdi_run(
    profile_name: str, example: str, *args: str, overrides: dict | None = None, timeout: float = 900.0
) -> str:
    """Run an example with ``verdi run`` in a new process on the (committed) test profile; return its stdout.

    Fails the test with stdout and stderr when the script exits non-zero.
    """
    from aiida.manage import get_manager

    # End this process's open (read) transaction: it would lock the SQLite file against the script's writes.
    get_manager().get_profile_storage().get_session().commit()
    command = [
        str(pathlib.Path(sys.executable).with_name('verdi')),
        '-p',
        profile_name,
        'run',
        str(EXAMPLES / f'{example}.py'),
        *args,
    ]
    if overrides is not None:
        command += ['--overrides', json.dumps(overrides)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    assert result.returncode == 0, f'{" ".join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}'
    return result.stdout
