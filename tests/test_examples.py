"""Every script in ``examples/`` run for real with ``verdi run`` on the fast protocol (CP2K, LAMMPS, PySCF).

Inputs are trimmed with ``--overrides`` where a full fast run would take minutes; the study and lattice-study
scripts run in tests/test_study.py. Each test checks what the script printed against the stored nodes.
"""

import re

import pytest
from aiida import orm
from examples_support import EXAMPLES, verdi_run

from aiida_qdots.workchains.study import ConfigurationWorkChain


def _process(stdout: str) -> orm.ProcessNode:
    """The process node whose PK the example printed (``<Label><PK> finished, exit status ...``)."""
    match = re.search(r'(\w+)<(\d+)> (finished|excepted|killed)', stdout)
    assert match, stdout
    return orm.load_node(int(match.group(2)))


@pytest.fixture
def profile_name(aiida_profile, localhost, cp2k_code, lammps_code, python_code):
    """The committed test profile with the three codes registered, for a `verdi run` in another process."""
    return aiida_profile.name


def test_every_workchain_has_an_example():
    from importlib.metadata import entry_points

    names = {
        ep.name.removeprefix('qdots.') for ep in entry_points(group='aiida.workflows') if ep.name.startswith('qdots.')
    }
    assert names == {path.stem for path in EXAMPLES.glob('*.py')}


def test_cluster_energy_example(profile_name):
    out = verdi_run(profile_name, 'cluster_energy', '--composition', 'se-rich')
    node = _process(out)
    assert node.is_finished_ok
    assert f'E = {node.outputs.energy.value:.4f} eV' in out


def test_ligand_ranking_example(profile_name):
    out = verdi_run(profile_name, 'ligand_ranking', '--composition', 'cd-rich', '--arrangements', '0,1')
    node = _process(out)
    assert node.is_finished_ok
    ranking = node.outputs.ranking['ranking']
    assert [e['configuration'] for e in ranking] == [0, 1] and ranking[0]['relative_energy_mev'] == 0.0
    assert 'configuration 1: arrangement' in out


def test_aimd_and_its_analysis_examples(profile_name, real_first_frame, import_real_frames):
    atoms = real_first_frame.copy()  # a relaxed DFT geometry: GFN1 MD can start from it without relaxing
    atoms.set_cell([30.0, 30.0, 30.0])
    atoms.center()
    atoms.pbc = False
    start = orm.StructureData(ase=atoms).store()
    stages = [{'name': 'production', 'ensemble': 'NVE', 'temperature': 300.0, 'steps': 16}]
    out = verdi_run(
        profile_name,
        'aimd',
        '--structure',
        str(start.pk),
        overrides={'relax': False, 'stages': stages, 'segment_steps': 16},
    )
    node = _process(out)
    assert node.is_finished_ok and node.outputs.trajectory.numsteps == 16
    assert f'trajectory<{node.outputs.trajectory.pk}>' in out

    analysed = _process(verdi_run(profile_name, 'aimd_analysis', '--trajectory', str(import_real_frames(200).pk)))
    assert analysed.is_finished_ok and set(analysed.outputs.summary['rmsf_by_element']) == {'Cd', 'Se', 'Cl'}


def test_electronic_example(profile_name, real_trajectory):
    out = verdi_run(
        profile_name,
        'electronic',
        '--trajectory',
        str(real_trajectory.pk),
        overrides={'selection': {'stride_fs': 1.0, 'window_fs': None}, 'chunk_frames': 5},
    )
    node = _process(out)
    assert node.is_finished_ok
    gap = node.outputs.statistics['gap']
    assert f'gap: {gap["mean_ev"]:.3f} +- {gap["std_ev"]:.3f} eV' in out


def test_namd_example(profile_name, import_real_frames):
    overrides = {
        'window': {'n_frames': 6, 'first_frame': 0},
        'chunk_frames': 6,
        'namd': {'duration_fs': 1.0e4, 'n_realisations': 50, 'initial_frames': 2, 'n_bootstrap': 50},
    }
    out = verdi_run(profile_name, 'namd', '--trajectory', str(import_real_frames(6).pk), overrides=overrides)
    node = _process(out)
    assert node.is_finished_ok
    assert f'mean |NAC| {node.outputs.summary["mean_abs_nac_mev"]:.3g} meV' in out


def test_phonons_and_ued_examples(profile_name):
    out = verdi_run(profile_name, 'phonons', '--diameter', '1.2', overrides={'stages': ['msd']})
    node = _process(out)
    assert node.is_finished_ok and 'd<u^2>/dT = ' in out
    fitted = _process(verdi_run(profile_name, 'ued', '--msd-slope', str(node.outputs.msd_slope.pk)))
    assert fitted.is_finished_ok
    assert fitted.inputs.msd_slope.uuid == node.outputs.msd_slope.uuid
    assert fitted.inputs.data.base.attributes.get('synthetic')  # the demo set says what it is


def test_configuration_example_reports_the_failed_stage(profile_name):
    """A Cl kind CP2K cannot read makes the Cd-rich cluster's AIMD fail for real: named exit code, nothing filed."""
    broken = {'aimd': {'method': {'parameters': {'FORCE_EVAL': {'SUBSYS': {'KIND': [{'_': 'Cl', 'ELEMENT': 'Xx'}]}}}}}}
    out = verdi_run(
        profile_name, 'configuration', '--composition', 'cd-rich', '--study', 'example-broken', overrides=broken
    )
    node = _process(out)
    assert node.exit_status == ConfigurationWorkChain.exit_codes.ERROR_AIMD_FAILED.status
    assert 'qdots.aimd<' in node.exit_message and 'structure' in node.outputs
    assert not orm.QueryBuilder().append(orm.Group, filters={'label': {'like': 'qdots/example-broken/%'}}).count()


def test_vibrations_example(profile_name):
    """Methane (5 atoms) instead of a 67-atom cluster: seconds instead of minutes, the same printout."""
    structure = orm.StructureData(cell=[[10.0, 0, 0], [0, 10.0, 0], [0, 0, 10.0]], pbc=(False, False, False))
    a = 1.09 / 3**0.5
    for symbol, offset in (
        ('C', (0, 0, 0)),
        ('H', (a, a, a)),
        ('H', (a, -a, -a)),
        ('H', (-a, a, -a)),
        ('H', (-a, -a, a)),
    ):
        structure.append_atom(symbols=symbol, position=[5.0 + x for x in offset])
    out = verdi_run(profile_name, 'vibrations', '--structure', str(structure.store().pk))
    node = _process(out)
    assert node.is_finished_ok
    summary = node.outputs.summary
    assert f'CH4: {summary["n_modes"]} modes, {summary["n_imaginary"]} imaginary' in out and summary['n_modes'] == 9
    assert 'raman_peak_cm1' not in summary and 'main optical Raman peak' not in out  # no mode in the optical window


def test_study_b_example(profile_name):
    """Both parts on a bare 1.2 nm CdSe core (seconds of LAMMPS each), printed from the stored nodes."""
    small = {'nanocrystal': {'diameter': 12.0, 'shell_monolayers': 0}}
    out = verdi_run(profile_name, 'study_b', '--study', 'example-b', overrides={'lattice': small, 'lifetimes': small})
    node = _process(out)
    assert node.is_finished_ok
    lattice = orm.load_node(node.outputs.summary['entries']['lattice']['pk'])
    assert f'd<u^2>/dT = {lattice.outputs.msd_slope["slope_A2_per_K"]:.3e}' in out
    lifetimes = orm.load_node(node.outputs.summary['entries']['lifetimes']['pk']).outputs.lifetimes_summary
    assert f'{lifetimes["n_modes"]} mode lifetimes' in out
