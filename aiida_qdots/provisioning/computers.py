"""Computers beyond ``localhost``: the one-node SLURM cluster of ``scripts/services.sh`` and real clusters.

* :func:`get_or_create_local_slurm`: ``core.local`` transport + ``core.slurm`` scheduler on this machine, so
  CP2K and LAMMPS jobs go through a real queue (``sbatch``, ``squeue``, ``scancel``).
* :func:`get_or_create_cluster`: a remote cluster over ``core.ssh`` (or ``core.ssh_async``) described by a
  :class:`ClusterConfig`, usually read from a YAML file with :func:`read_cluster_config` (see docs/cluster.md);
  its ``codes`` are the paths of the qdots codes there.
"""

from __future__ import annotations

import dataclasses
import pathlib
import shutil
import subprocess

import yaml
from aiida import orm
from aiida.common.exceptions import NotExistent
from aiida.plugins import TransportFactory

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.provisioning.codes import CODES, get_or_create_localhost

SLURM_LABEL = 'slurm'
"""Label of the local SLURM computer (``aiida-qdots setup --computer slurm``)."""

SLURM_NODE = 'localhost'
"""The one compute node of the local SLURM cluster (``scripts/services.sh``)."""

SSH_TRANSPORTS = ('core.ssh', 'core.ssh_async')
SCHEDULERS = ('core.slurm', 'core.pbspro', 'core.torque', 'core.sge', 'core.lsf', 'core.direct')


def slurm_node_cpus(node: str = SLURM_NODE) -> int:
    """CPUs of ``node`` as the running SLURM controller reports them; :class:`QdotsInputError` when it does not."""
    if shutil.which('sinfo') is None:
        raise QdotsInputError('SLURM is not installed (no sinfo on PATH); run `bash scripts/services.sh start` as root')
    result = subprocess.run(
        ['sinfo', '--noheader', f'--nodes={node}', '--format=%c'], capture_output=True, text=True, check=False
    )
    text = result.stdout.strip()
    if result.returncode != 0 or not text.isdigit():
        raise QdotsInputError(
            f'SLURM does not answer for node {node!r} ({(result.stderr or text).strip()}); '
            'start it with `bash scripts/services.sh start` (as root)'
        )
    return int(text)


def get_or_create_local_slurm(label: str = SLURM_LABEL) -> tuple[orm.Computer, bool]:
    """Load the computer ``label`` or create it: ``core.local`` + ``core.slurm`` on this machine, one MPI rank
    per CPU of the SLURM node, so a job fills the node and the queue runs jobs one after the other.

    Needs SLURM running (``scripts/services.sh start``). Returns the computer and whether it was created.
    """
    return get_or_create_localhost(label, mpiprocs=slurm_node_cpus(), scheduler_type='core.slurm')


@dataclasses.dataclass(frozen=True)
class ClusterConfig:
    """A remote cluster: where it is, how jobs start there, and where the qdots codes are.

    ``transport`` holds the options of ``verdi computer configure core.ssh`` (username, port, key_filename,
    proxy_jump, safe_interval, ...); ``codes`` maps ``cp2k``, ``lammps``, ``python`` to absolute paths on the
    cluster; ``workdir`` may contain ``{username}``.
    """

    label: str
    hostname: str
    workdir: str
    codes: dict[str, str]
    scheduler: str = 'core.slurm'
    transport_type: str = 'core.ssh'
    mpirun_command: str = 'srun'
    mpiprocs_per_machine: int = 1
    prepend_text: str = ''
    description: str = ''
    transport: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        for name in ('label', 'hostname', 'workdir'):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise QdotsInputError(f'cluster config: `{name}` must be a non-empty string')
        if self.transport_type not in SSH_TRANSPORTS:
            raise QdotsInputError(
                f'cluster config: transport_type must be one of {", ".join(SSH_TRANSPORTS)}, '
                f'got {self.transport_type!r}'
            )
        if self.scheduler not in SCHEDULERS:
            raise QdotsInputError(
                f'cluster config: scheduler must be one of {", ".join(SCHEDULERS)}, got {self.scheduler!r}'
            )
        if not isinstance(self.mpiprocs_per_machine, int) or self.mpiprocs_per_machine < 1:
            raise QdotsInputError(
                f'cluster config: mpiprocs_per_machine must be a positive integer, got {self.mpiprocs_per_machine!r}'
            )
        if not isinstance(self.codes, dict) or not self.codes:
            raise QdotsInputError(f'cluster config: `codes` must map some of {", ".join(CODES)} to paths')
        unknown = sorted(set(self.codes) - set(CODES))
        if unknown:
            raise QdotsInputError(f'cluster config: unknown code(s) {", ".join(unknown)}; known: {", ".join(CODES)}')
        relative = [k for k, path in self.codes.items() if not str(path).startswith('/')]
        if relative:
            raise QdotsInputError(
                f'cluster config: code paths must be absolute paths on the cluster: '
                f'{", ".join(f"{k}={self.codes[k]!r}" for k in relative)}'
            )
        if not isinstance(self.transport, dict):
            raise QdotsInputError(f'cluster config: `transport` must be a mapping of {self.transport_type} options')
        valid = TransportFactory(self.transport_type).get_valid_auth_params()
        unknown = sorted(set(self.transport) - set(valid))
        if unknown:
            raise QdotsInputError(
                f'cluster config: invalid transport options {", ".join(unknown)} for '
                f'{self.transport_type}; valid: {", ".join(valid)}'
            )


def read_cluster_config(path: str | pathlib.Path) -> ClusterConfig:
    """The :class:`ClusterConfig` of a YAML file; :class:`QdotsInputError` naming the file and the problem."""
    path = pathlib.Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8'))
    except OSError as exc:
        raise QdotsInputError(f'{path}: cannot read: {exc.strerror or exc}') from None
    except yaml.YAMLError as exc:
        raise QdotsInputError(f'{path}: not valid YAML: {exc}') from None
    if not isinstance(data, dict):
        raise QdotsInputError(f'{path}: expected a mapping of cluster settings, got {type(data).__name__}')
    fields = {f.name for f in dataclasses.fields(ClusterConfig)}
    unknown = sorted(set(data) - fields)
    missing = sorted(
        f.name
        for f in dataclasses.fields(ClusterConfig)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in data
    )
    if unknown or missing:
        problems = ([f'unknown key(s) {", ".join(unknown)}'] if unknown else []) + (
            [f'missing key(s) {", ".join(missing)}'] if missing else []
        )
        raise QdotsInputError(f'{path}: {"; ".join(problems)} (keys: {", ".join(sorted(fields))})')
    try:
        return ClusterConfig(**data)
    except QdotsInputError as exc:
        raise QdotsInputError(f'{path}: {exc}') from None


def get_or_create_cluster(config: ClusterConfig) -> tuple[orm.Computer, bool]:
    """Load or create the computer of ``config`` and configure its transport for the current user.

    Returns the computer and whether it was created. Register the codes with
    ``get_or_create_code(kind, computer, executable=path)`` for ``kind, path in config.codes.items()``.
    Nothing connects to the cluster here; ``verdi computer test <label>`` does.
    """
    try:
        computer = orm.load_computer(config.label)
        created = False
    except NotExistent:
        computer = orm.Computer(
            label=config.label,
            hostname=config.hostname,
            description=config.description or f'{config.hostname} ({config.scheduler}, qdots)',
            transport_type=config.transport_type,
            scheduler_type=config.scheduler,
            workdir=config.workdir,
        )
        computer.set_mpirun_command(config.mpirun_command.split())
        computer.set_default_mpiprocs_per_machine(config.mpiprocs_per_machine)
        computer.set_prepend_text(config.prepend_text)
        computer.store()
        created = True
    if computer.transport_type != config.transport_type or computer.hostname != config.hostname:
        raise QdotsInputError(
            f'computer {config.label!r} exists with {computer.transport_type} to '
            f'{computer.hostname}, not {config.transport_type} to {config.hostname}; '
            'choose another label'
        )
    if not computer.is_configured:
        computer.configure(**config.transport)
    return computer, created
