"""Fault injection: each test breaks something for real and proves that nothing stored is lost.

CP2K killed inside a SLURM job or the job cancelled, a node failure, the daemon stopped mid-study, 12 concurrent
workchains on 2 workers (run by a PostgreSQL + RabbitMQ profile with a daemon and the local SLURM cluster), and a
tampered archive imported into the test profile.
"""

import io
import json
import pathlib
import subprocess
import zipfile

import numpy as np
import pytest
from aiida import orm
from aiida.common import timezone
from aiida.common.exceptions import CorruptStorage, IncompatibleStorageSchema
from aiida.common.links import LinkType
from aiida.engine import submit
from aiida.engine.daemon.client import get_daemon_client
from aiida.manage import get_manager
from aiida.tools import delete_nodes
from aiida.tools.archive import create_archive, import_archive
from aiida.tools.archive.exceptions import ImportValidationError
from profile_state import node_count, profile_fingerprint
from scipy.spatial.transform import Rotation
from services_support import DAEMON_TIMEOUT, DAEMON_WORKERS, slurm_jobs, wait_for_processes
from test_aimd import _frames_written, _kill_cp2k_in

from aiida_qdots.provisioning.computers import SLURM_LABEL, SLURM_NODE
from aiida_qdots.structures.nanocrystals import build_nanocrystal
from aiida_qdots.workchains.aimd import RESTART_FILE, AimdWorkChain
from aiida_qdots.workchains.cp2k_runs import cp2k_calcs
from aiida_qdots.workchains.phonons import PhononsWorkChain

pytest_plugins = ['services_fixtures']
SEGMENT_STEPS = 12


def called(node: orm.ProcessNode, label: str) -> orm.ProcessNode | None:
    """The process ``node`` called with link label ``label``, once it exists."""
    found = node.base.links.get_outgoing(link_label_filter=label).all_nodes()
    return found[0] if found else None


def call_label(calcjob: orm.CalcJobNode) -> str:
    """The link label under which its workchain called ``calcjob``."""
    return calcjob.base.links.get_incoming(link_type=LinkType.CALL_CALC).one().link_label


def rotated_copies(atoms, n: int) -> list[orm.StructureData]:
    """``n`` copies of ``atoms`` turned about their centre of mass by reproducible random rotations."""
    centre = atoms.get_center_of_mass()
    copies = []
    for rotation in Rotation.random(n, random_state=7):
        copy = atoms.copy()
        copy.positions = rotation.apply(copy.positions - centre) + centre
        copies.append(orm.StructureData(ase=copy))
    return copies


def phonon_modes_builder(structure: orm.StructureData, overrides: dict | None = None):
    """``qdots.phonons`` fast, modes stage (LAMMPS minimisation + Hessian, 2 jobs) on the SLURM computer."""
    code = orm.load_code(f'lammps@{SLURM_LABEL}')
    overrides = {'stages': ['modes'], **(overrides or {})}
    return PhononsWorkChain.get_builder_from_protocol(code, structure, 'fast', overrides)


def vibrational_frequencies(node: orm.WorkflowNode) -> np.ndarray:
    modes = node.outputs.normal_modes
    return modes.get_array('frequencies_thz')[~modes.get_array('rigid_mask')]


@pytest.fixture
def small_nanocrystal():
    """A 30-atom CdSe wurtzite particle (1.2 nm): seconds per LAMMPS job."""
    return build_nanocrystal(12.0)


# ---------------------------------------------------- archive (first: it runs on the test profile, no services)


def _rewrite_zip(source: pathlib.Path, target: pathlib.Path, change) -> None:
    """Copy the zip ``source`` to ``target`` with ``change(name, data) -> data`` applied to every member."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, 'w', zipfile.ZIP_DEFLATED) as copy:
        for info in original.infolist():
            copy.writestr(info, change(info.filename, original.read(info.filename)))


def _flip_byte_in_database(source: pathlib.Path, target: pathlib.Path) -> None:
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo('db.sqlite3')
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
    data[offset] ^= 0xFF
    target.write_bytes(bytes(data))


def _change_repository_file(source: pathlib.Path, target: pathlib.Path) -> None:
    def change(name, data):
        if name.startswith('repo/') and not name.endswith('/') and data:
            return data[:-1] + bytes([data[-1] ^ 0x01])
        return data

    _rewrite_zip(source, target, change)


def _change_metadata(source: pathlib.Path, target: pathlib.Path) -> None:
    def change(name, data):
        if name == 'metadata.json':
            metadata = json.loads(data)
            metadata['export_version'] = '0.1'
            return json.dumps(metadata).encode()
        return data

    _rewrite_zip(source, target, change)


@pytest.mark.parametrize(
    ('tamper', 'error', 'message'),
    [
        (_flip_byte_in_database, CorruptStorage, 'Bad CRC-32'),
        (_change_repository_file, ImportValidationError, 'repository key is different'),
        (_change_metadata, IncompatibleStorageSchema, "archive version '0.1'"),
    ],
    ids=['byte_in_zip', 'repository_file', 'metadata'],
)
def test_tampered_archive_import_fails_cleanly(import_real_frames, tmp_path, tamper, error, message):
    """An exported trajectory (arrays in repository files) is tampered with in three ways; each import fails with
    a named AiiDA error and leaves nodes, links, groups and referenced file hashes as they were (a file written
    before the hash check is unreferenced: `verdi storage maintain` removes it). The untampered archive then
    imports and restores the same arrays."""
    storage = get_manager().get_profile_storage()
    trajectory = import_real_frames(3)
    positions = trajectory.get_positions()
    note = orm.SinglefileData(
        io.BytesIO(f'{tmp_path.name}: first 3 frames of the Cd28Se17Cl22 AIMD'.encode()), filename='README.txt'
    ).store()  # one repository file no other test has
    archive = tmp_path / 'study.aiida'
    create_archive([trajectory, note], filename=archive)
    uuid = trajectory.uuid
    delete_nodes([trajectory.pk, note.pk], dry_run=False)
    storage.maintain(dry_run=False)  # its repository files go too, so the import has to add them again
    count, fingerprint = node_count(), profile_fingerprint()
    objects = set(storage.get_repository().list_objects())

    tampered = tmp_path / 'tampered.aiida'
    tamper(archive, tampered)
    with pytest.raises(error, match=message):
        import_archive(tampered)
    assert node_count() == count and profile_fingerprint() == fingerprint
    assert set(storage.get_repository().list_objects()) - objects <= storage.get_unreferenced_keyset()

    import_archive(archive)
    np.testing.assert_array_equal(orm.load_node(uuid).get_positions(), positions)
    assert node_count() > count


# --------------------------------------------------------------------------------- daemon and SLURM faults


def _cp2k_run_of_segment(node: orm.WorkflowNode, index: int) -> orm.CalcJobNode | None:
    base = called(node, f'segment_{index:03d}')
    calcs = cp2k_calcs(base) if base is not None else []
    return calcs[0] if calcs else None


@pytest.mark.services
@pytest.mark.parametrize('fault', ['sigkill_cp2k', 'scancel'])
def test_cp2k_killed_in_slurm_job_restarts_from_restart_file(service_profile, real_first_frame, fault):
    """NVE production in 2 segments on the SLURM computer; the second segment's CP2K is killed (SIGKILL to the
    MPI ranks) or its job cancelled (scancel) mid-run. cp2k.base restarts it from the killed run's restart file;
    the trajectory has every step once, the first segment's and the killed run's frames unchanged, and the
    conserved energy runs on across the restart."""
    atoms = real_first_frame.copy()
    atoms.set_cell([30.0, 30.0, 30.0])
    atoms.center()
    atoms.pbc = False
    stages = [{'name': 'production', 'ensemble': 'NVE', 'temperature': 300.0, 'steps': 2 * SEGMENT_STEPS}]
    overrides = {'relax': False, 'stages': stages, 'segment_steps': SEGMENT_STEPS, 'analysis': None}
    builder = AimdWorkChain.get_builder_from_protocol(
        orm.load_code(f'cp2k@{SLURM_LABEL}'), orm.StructureData(ase=atoms), 'fast', overrides
    )
    node = submit(builder)

    def running_long_enough():
        calc = _cp2k_run_of_segment(node, 1)
        return node.is_terminated or (
            calc is not None
            and calc.get_job_id() is not None
            and _frames_written(pathlib.Path(calc.get_remote_workdir())) >= 4
        )

    wait_for_processes([node], timeout=600, until=running_long_enough)
    victim = _cp2k_run_of_segment(node, 1)
    assert victim is not None and not victim.is_terminated, 'the segment ended before the fault could be injected'
    if fault == 'scancel':
        subprocess.run(['scancel', victim.get_job_id()], check=True)
    else:
        _kill_cp2k_in(pathlib.Path(victim.get_remote_workdir()))
    wait_for_processes([node], timeout=600)
    assert node.is_finished_ok, node.exit_message

    segment = called(node, 'segment_001')
    killed, restart = cp2k_calcs(segment)
    assert killed.pk == victim.pk and restart.is_finished_ok
    assert killed.exit_status == killed.process_class.exit_codes.ERROR_OUTPUT_INCOMPLETE.status
    assert restart.inputs.parent_calc_folder.uuid == killed.outputs.remote_folder.uuid
    ext_restart = restart.inputs.parameters['EXT_RESTART']
    assert ext_restart['RESTART_FILE_NAME'] == f'./parent_calc/{RESTART_FILE}'

    trajectory = node.outputs.trajectory
    steps = trajectory.get_stepids()
    assert steps.tolist() == list(range(1, 2 * SEGMENT_STEPS + 1))
    positions = trajectory.get_positions()
    for calc in (cp2k_calcs(called(node, 'segment_000'))[0], killed):
        kept = calc.outputs.md_trajectory
        inside = kept.get_stepids() >= 1
        assert inside.sum() >= 3
        index = np.searchsorted(steps, kept.get_stepids()[inside])
        np.testing.assert_array_equal(positions[index], kept.get_positions()[inside])
    conserved = trajectory.get_array('conserved_energy') / len(atoms)
    jumps = np.abs(np.diff(conserved))
    assert jumps.max() < 1e-5, f'conserved energy jumps by up to {jumps.max():.2e} eV/atom between steps'
    nve = node.outputs.checks['blocks'][0]
    assert abs(nve['drift_ev_per_atom_ps']) < 0.05


@pytest.mark.services
def test_node_failure_during_md_ends_in_named_exit_code_and_keeps_earlier_stages(service_profile, small_nanocrystal):
    """The SLURM node goes down while the lifetimes MD runs: the job dies, qdots.phonons stops with
    ERROR_MD_FAILED, and the normal modes computed before (and the MD's partial output) stay stored."""
    md = {'nvt_steps': 2000, 'nve_steps': 2_000_000, 'dump_every': 1000}  # far longer than the test waits
    node = submit(
        phonon_modes_builder(orm.StructureData(ase=small_nanocrystal), {'stages': ['modes', 'lifetimes'], 'md': md})
    )

    def md_running():
        calc = called(node, 'md_300_K')
        if node.is_terminated or calc is None or slurm_jobs().get(calc.get_job_id()) != 'RUNNING':
            return node.is_terminated
        log = pathlib.Path(calc.get_remote_workdir()) / 'lammps.out'
        return log.exists() and 'Step' in log.read_text()

    wait_for_processes([node], timeout=300, until=md_running)
    assert not node.is_terminated, node.exit_message
    subprocess.run(
        ['scontrol', 'update', f'nodename={SLURM_NODE}', 'state=down', 'reason=qdots fault test'], check=True
    )
    try:
        wait_for_processes([node], timeout=300)
    finally:
        subprocess.run(['scontrol', 'update', f'nodename={SLURM_NODE}', 'state=resume'], check=False)
    assert node.exit_status == PhononsWorkChain.exit_codes.ERROR_MD_FAILED.status, node.exit_message
    md_calc = called(node, 'md_300_K')
    assert md_calc.exit_status == md_calc.process_class.exit_codes.ERROR_OUTPUT_INCOMPLETE.status
    retrieved = md_calc.outputs.retrieved
    assert 'NODE FAILURE' in retrieved.base.repository.get_object_content('_scheduler-stderr.txt')
    assert 'Step' in retrieved.base.repository.get_object_content('lammps.out')  # the partial log is kept
    for name in ('relaxed_structure', 'hessian', 'normal_modes', 'dos', 'modes_summary'):
        assert name in node.outputs, f'{name} of the modes stage was lost'
    assert len(vibrational_frequencies(node)) == 3 * len(small_nanocrystal) - 6


@pytest.mark.services
def test_daemon_stopped_mid_study_resumes_every_process(service_profile, small_nanocrystal):
    """The daemon stops while qdots.phonons runs are queued and a job is in SLURM; the job finishes unwatched;
    a restarted daemon resumes every process from its checkpoint: each workchain ends with exactly its two
    LAMMPS jobs, and rotated copies give the same frequencies."""
    client = get_daemon_client(service_profile.name)
    nodes = [submit(phonon_modes_builder(structure)) for structure in rotated_copies(small_nanocrystal, 3)]

    def calcjobs():
        return [c for n in nodes for c in n.called if isinstance(c, orm.CalcJobNode)]

    wait_for_processes(nodes, timeout=300, until=lambda: any(c.get_job_id() for c in calcjobs()))
    client.stop_daemon(wait=True, timeout=DAEMON_TIMEOUT)
    try:
        paused = {n.pk: n.process_state for n in nodes if not n.is_terminated}
        assert paused, 'every workchain finished before the daemon stopped'
        assert all(orm.load_node(pk).checkpoint is not None for pk in paused)
        wait_for_processes(nodes, timeout=300, until=lambda: not slurm_jobs())  # SLURM finishes without the daemon
        assert {pk: orm.load_node(pk).process_state for pk in paused} == paused, 'a process moved without a daemon'
    finally:
        client.start_daemon(number_workers=DAEMON_WORKERS, timeout=DAEMON_TIMEOUT)
    wait_for_processes(nodes, timeout=600)
    assert all(n.is_finished_ok for n in nodes), [n.exit_message for n in nodes]
    for n in nodes:
        jobs = sorted(call_label(c) for c in calcjobs() if c.caller.pk == n.pk)
        assert jobs == ['hessian', 'minimise']
    assert len({c.get_job_id() for c in calcjobs()}) == 2 * len(nodes)
    frequencies = [vibrational_frequencies(n) for n in nodes]
    for other in frequencies[1:]:
        np.testing.assert_allclose(other, frequencies[0], rtol=1e-3)


@pytest.mark.services
def test_twelve_concurrent_workchains_on_two_workers(service_profile, small_nanocrystal):
    """12 qdots.phonons runs (24 SLURM jobs, 12 calcfunctions) at once on 2 daemon workers: all finish, every
    process is sealed, every CalcJob has its workchain as caller, no job ran twice, no node is orphaned, and the
    12 rotated copies give the same frequencies (a rotation cannot change them)."""
    start = timezone.now()
    nodes = [submit(phonon_modes_builder(structure)) for structure in rotated_copies(small_nanocrystal, 12)]
    wait_for_processes(nodes, timeout=900)
    assert all(n.is_finished_ok for n in nodes), [(n.pk, n.exit_message) for n in nodes]

    new = {'ctime': {'>=': start}}
    processes = orm.QueryBuilder().append(orm.ProcessNode, filters=new).all(flat=True)
    assert all(p.is_sealed for p in processes)
    calcjobs = [p for p in processes if isinstance(p, orm.CalcJobNode)]
    assert len(calcjobs) == 2 * len(nodes)
    assert {c.caller.pk for c in calcjobs} == {n.pk for n in nodes}
    labels = sorted((c.caller.pk, call_label(c)) for c in calcjobs)
    assert labels == sorted((n.pk, label) for n in nodes for label in ('minimise', 'hessian'))
    assert len({c.get_job_id() for c in calcjobs}) == len(calcjobs)
    calcfunctions = [p for p in processes if isinstance(p, orm.CalcFunctionNode)]
    assert len(calcfunctions) == len(nodes) and {c.caller.pk for c in calcfunctions} == {n.pk for n in nodes}
    linked = set()
    for direction in ('with_incoming', 'with_outgoing'):  # an input of a process, or created by one
        query = (
            orm.QueryBuilder()
            .append(orm.Data, filters=new, tag='data', project='id')
            .append(orm.ProcessNode, **{direction: 'data'})
        )
        linked |= set(query.all(flat=True))
    all_new = set(orm.QueryBuilder().append(orm.Data, filters=new, project='id').all(flat=True))
    assert all_new == linked, f'orphaned data nodes: {sorted(all_new - linked)}'

    frequencies = np.array([vibrational_frequencies(n) for n in nodes])
    np.testing.assert_allclose(frequencies, np.broadcast_to(frequencies[0], frequencies.shape), rtol=1e-3)
