"""The scaled-out setup for real: a PostgreSQL + RabbitMQ profile, 2 daemon workers and a one-node SLURM cluster.

Services come from ``scripts/services.sh`` (started by the ``services`` fixture), the profile and the SLURM computer
from ``aiida-qdots setup --backend psql --computer slurm``. The remote-cluster registration needs no services.
"""

import numpy as np
import pytest
import yaml
from aiida import orm
from aiida.engine import submit
from aiida.engine.daemon.client import get_daemon_client
from click.testing import CliRunner
from scipy.spatial.transform import Rotation
from services_support import DAEMON_WORKERS, wait_for_processes

from aiida_qdots.cli import cli
from aiida_qdots.provisioning.computers import SLURM_LABEL, slurm_node_cpus
from aiida_qdots.structures.clusters import build_magic_cluster
from aiida_qdots.workchains.cluster_energy import ClusterEnergyWorkChain

pytest_plugins = ['services_fixtures']


def test_setup_registers_a_remote_cluster_from_its_config(aiida_profile, tmp_path):
    """`--computer-config`: a core.ssh + core.slurm computer configured for the user, codes at the given paths
    (nothing connects to the cluster); a second run reuses all of it."""
    config = {
        'label': 'faraway',
        'hostname': 'login.cluster.example.org',
        'workdir': '/scratch/{username}/aiida',
        'mpirun_command': 'srun --cpu-bind=cores',
        'mpiprocs_per_machine': 128,
        'prepend_text': 'module load cp2k/2023.1',
        'transport': {'username': 'alice', 'safe_interval': 5.0},
        'codes': {'cp2k': '/opt/cp2k/bin/cp2k.psmp', 'lammps': '/opt/lammps/bin/lmp'},
    }
    path = tmp_path / 'faraway.yaml'
    path.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(cli, ['setup', '--computer-config', str(path)])
    assert result.exit_code == 0, result.output
    assert "computer: created 'faraway' (core.ssh + core.slurm on login.cluster.example.org, 128 MPI" in result.output
    assert 'verdi -p' in result.output and 'computer test faraway' in result.output
    computer = orm.load_computer('faraway')
    assert computer.get_mpirun_command() == ['srun', '--cpu-bind=cores']
    assert computer.get_prepend_text() == 'module load cp2k/2023.1'
    assert computer.get_configuration() == {'username': 'alice', 'safe_interval': 5.0}
    cp2k = orm.load_code('cp2k@faraway')
    assert str(cp2k.filepath_executable) == '/opt/cp2k/bin/cp2k.psmp' and cp2k.default_calc_job_plugin == 'cp2k'
    assert orm.load_code('lammps@faraway').default_calc_job_plugin == 'lammps.raw'
    again = CliRunner().invoke(cli, ['setup', '--computer-config', str(path)])
    assert again.exit_code == 0 and "computer: using 'faraway'" in again.output
    assert 'code: using cp2k@faraway' in again.output and 'code: using lammps@faraway' in again.output


@pytest.mark.services
def test_profile_runs_on_postgresql_and_rabbitmq_with_two_workers(service_profile):
    assert service_profile.storage_backend == 'core.psql_dos'
    assert service_profile.process_control_backend == 'core.rabbitmq'
    client = get_daemon_client(service_profile.name)
    assert client.is_daemon_running
    assert client.get_numprocesses()['numprocesses'] == DAEMON_WORKERS
    computer = orm.load_computer(SLURM_LABEL)
    assert (computer.transport_type, computer.scheduler_type) == ('core.local', 'core.slurm')
    assert computer.get_default_mpiprocs_per_machine() == slurm_node_cpus()


@pytest.mark.services
def test_setup_again_reuses_profile_computer_and_codes(service_profile):
    before = orm.QueryBuilder().append(orm.Node).count()
    args = ['setup', '--backend', 'psql', '--profile-name', service_profile.name, '--computer', SLURM_LABEL]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert f'using existing profile {service_profile.name!r}' in result.output
    assert f"computer: using '{SLURM_LABEL}' (core.local + core.slurm" in result.output
    assert f'code: using cp2k@{SLURM_LABEL}' in result.output
    assert orm.QueryBuilder().append(orm.Node).count() == before


@pytest.mark.services
def test_cluster_energy_through_daemon_and_slurm_is_rotation_invariant(service_profile):
    """GFN1-xTB energy of the Se-rich cluster and of a rotated copy, both run by the daemon as SLURM jobs: the
    total energy of an isolated cluster cannot depend on its orientation."""
    atoms = build_magic_cluster('se-rich', 0)
    rotated = atoms.copy()
    centre = rotated.get_center_of_mass()
    rotated.positions = (
        Rotation.from_euler('zyx', [37.0, 21.0, -58.0], degrees=True).apply(rotated.positions - centre) + centre
    )
    code = orm.load_code(f'cp2k@{SLURM_LABEL}')
    nodes = [
        submit(ClusterEnergyWorkChain.get_builder_from_protocol(code, orm.StructureData(ase=a), 'fast'))
        for a in (atoms, rotated)
    ]
    wait_for_processes(nodes, timeout=600)
    assert all(node.is_finished_ok for node in nodes), [node.exit_message for node in nodes]
    energies = [node.outputs.energy.value for node in nodes]
    np.testing.assert_allclose(energies[0], energies[1], atol=2e-5)  # eV; the SCF tolerance
    assert -4000.0 < energies[0] < -2000.0

    for node in nodes:
        calc = node.outputs.energy.creator.inputs.output_parameters.creator
        assert isinstance(calc, orm.CalcJobNode) and calc.computer.scheduler_type == 'core.slurm'
        assert calc.get_job_id() is not None
        assert '_scheduler-stdout.txt' in calc.outputs.retrieved.base.repository.list_object_names()


@pytest.mark.services
def test_fast_study_through_daemon_and_slurm(service_profile):
    """A fast qdots.lattice_study (1.2 nm particle: modes, lifetimes, MSD(T), G(r), then the UED fit of the
    synthetic set) submitted to the 2-worker daemon of the PostgreSQL + RabbitMQ profile, every LAMMPS job through
    SLURM: the study finishes, its comparison tables come from PostgreSQL, and every job has a SLURM job id."""
    from aiida_qdots.query import nanocrystal_table, ued_table
    from aiida_qdots.workchains.lattice_study import LatticeStudyWorkChain

    builder = LatticeStudyWorkChain.get_builder_from_protocol(
        orm.load_code(f'lammps@{SLURM_LABEL}'),
        'services-study',
        [{'diameter': 12.0}],
        protocol='fast',
        ued_synthetic={'n_trajectories': 2000},
    )
    node = submit(builder)
    wait_for_processes([node], timeout=900)
    assert node.is_finished_ok, node.exit_message
    crystals, fits = nanocrystal_table('services-study'), ued_table('services-study')
    assert len(crystals) == 1 and crystals['du2_dT_A2_per_K'].iloc[0] > 0
    assert sorted(fits['wavelength_nm']) == [340.0, 510.0]
    jobs = [called for called in node.called_descendants if isinstance(called, orm.CalcJobNode)]
    assert len(jobs) >= 5  # minimise, Hessian, MD at 150/300/314/450 K
    assert all(job.computer.scheduler_type == 'core.slurm' and job.get_job_id() for job in jobs)
