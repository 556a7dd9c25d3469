"""qdots.electronic: per-frame orbital energies from CP2K REFTRAJ chunks, checked against single points."""

import re

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import WorkflowFactory

from aiida_qdots.parsers.cp2k import parse_mo_blocks
from aiida_qdots.workchains.electronic import ElectronicWorkChain, select_frame_indices

MO_TEXT = """
 MO| EIGENVALUES AND OCCUPATION NUMBERS
 MO|
 MO|  Index      Eigenvalue [a.u.]        Eigenvalue [eV]             Occupation
 MO|      1           -0.50000000           -13.60569312             2.00000000
 MO|      2           -0.40000000           -10.88455450             1.99999990
 MO|      3           -0.30000000            -8.16341587             0.00000010
 MO|      4           -0.20000000            -5.44227725             0.00000000
 MO| Sum:                                                             4.00000000
 MO| E(Fermi):         -0.35000000 a.u.       -9.52398518 eV
"""


def test_mo_blocks_give_homo_lumo_per_frame():
    second = MO_TEXT.replace('-10.88455450', '-10.5')
    restart_guess = MO_TEXT.replace('NUMBERS\n', 'NUMBERS AFTER SCF STEP 0\n').replace('-10.88455450', '-99.0')
    levels = parse_mo_blocks(restart_guess + 'SCF ...' + MO_TEXT + 'MD| Step number 1' + second)
    assert levels['homo_index'].tolist() == [1, 1]
    np.testing.assert_allclose(levels['homo'], [-10.88455450, -10.5])
    np.testing.assert_allclose(levels['lumo'], [-8.16341587] * 2)
    np.testing.assert_allclose(levels['lumo_plus1'], [-5.44227725] * 2)
    np.testing.assert_allclose(levels['gap'], levels['lumo'] - levels['homo'])
    with pytest.raises(ValueError, match='add ADDED_MOS'):
        parse_mo_blocks('\n'.join(line for line in MO_TEXT.splitlines() if '-5.44227725' not in line))


def test_frame_selection_takes_the_last_window():
    times = np.arange(0, 100.0, 1.0)
    assert select_frame_indices(times, 20.0, None).tolist() == [0, 20, 40, 60, 80]
    assert select_frame_indices(times, 20.0, 50.0).tolist() == [50, 70, 90]
    assert select_frame_indices(np.arange(0, 100.0, 2.0), 20.0, None).tolist() == [0, 10, 20, 30, 40]


def test_reftraj_levels_equal_single_point_levels(cp2k_code, real_trajectory):
    """Frames 0, 2, 4 in two REFTRAJ chunks; frame 0 re-done as an independent CP2K single point
    (RUN_TYPE ENERGY, same method and SCF) must give the same HOMO and LUMO."""
    overrides = {'selection': {'stride_fs': 2.0, 'window_fs': None}, 'chunk_frames': 2}
    builder = ElectronicWorkChain.get_builder_from_protocol(cp2k_code, real_trajectory, 'fast', overrides)
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    levels = node.outputs.levels
    assert levels.get_array('frame_index').tolist() == [0, 2, 4]
    np.testing.assert_allclose(levels.get_array('time_fs'), [0.0, 2.0, 4.0])
    gap = levels.get_array('gap')
    np.testing.assert_allclose(gap, levels.get_array('lumo') - levels.get_array('homo'))
    assert np.all((gap > 0.5) & (gap < 3.0))  # GFN1-xTB gap of Cd28Se17Cl22: ~1.3-1.5 eV
    assert len([c for c in node.called if c.process_label == 'Cp2kBaseWorkChain']) == 2
    statistics = node.outputs.statistics
    assert statistics['n_frames'] == 3
    assert statistics['gap']['std_ev'] == pytest.approx(np.std(gap))

    parameters = builder.parameters.get_dict()
    parameters['GLOBAL']['RUN_TYPE'] = 'ENERGY'
    single = WorkflowFactory('cp2k.base').get_builder()
    single.cp2k.code = cp2k_code
    single.cp2k.structure = real_trajectory.get_step_structure(0)
    single.cp2k.parameters = orm.Dict(parameters)
    single.cp2k.metadata.options = builder.options.get_dict()
    _, reference = run_get_node(single)
    assert reference.is_finished_ok, reference.exit_message
    calc = next(c for c in reference.called if isinstance(c, orm.CalcJobNode))
    mo = calc.outputs.mo_energies
    assert mo.get_array('homo')[0] == pytest.approx(levels.get_array('homo')[0], abs=1e-4)
    assert mo.get_array('lumo')[0] == pytest.approx(levels.get_array('lumo')[0], abs=1e-4)


PREVIOUS_MIXING = {'MIXING': {'METHOD': 'BROYDEN_MIXING', 'ALPHA': 0.1, 'NBROYDEN': 8}}
"""The snapshot mixing before issue 15 (with a fresh guess in every chunk)."""


def scf_iterations(node) -> list[int]:
    """SCF iterations of every frame of a qdots.electronic run, in frame order (from the CP2K outputs)."""
    from aiida_qdots.workchains.cp2k_runs import cp2k_calcs

    iterations = []
    for chunk in sorted((c for c in node.called if c.process_label == 'Cp2kBaseWorkChain'), key=lambda c: c.ctime):
        for calc in cp2k_calcs(chunk):
            text = calc.outputs.retrieved.base.repository.get_object_content('aiida.out')
            iterations += [int(n) for n in re.findall(r'SCF run converged in\s+(\d+) steps', text)]
    return iterations


def test_snapshot_scf_keeps_the_levels_and_saves_iterations(cp2k_code, real_trajectory):
    """Same frames (0, 2, 4 of the real Cd28Se17Cl22 trajectory, two chunks), previous vs protocol SCF: HOMO and
    LUMO equal within 1 meV; fewer SCF iterations; the second chunk starts from the first one's wavefunction."""
    overrides = {'selection': {'stride_fs': 2.0, 'window_fs': None}, 'chunk_frames': 2}
    runs = {}
    for name, scf in (('previous', PREVIOUS_MIXING), ('protocol', {})):
        builder = ElectronicWorkChain.get_builder_from_protocol(
            cp2k_code, real_trajectory, 'fast', {**overrides, 'scf': scf}
        )
        _, runs[name] = run_get_node(builder)
        assert runs[name].is_finished_ok, runs[name].exit_message
    old, new = (runs[name].outputs.levels for name in ('previous', 'protocol'))
    for level in ('homo', 'lumo', 'lumo_plus1'):
        np.testing.assert_allclose(new.get_array(level), old.get_array(level), atol=1e-3)
    old_iterations, new_iterations = scf_iterations(runs['previous']), scf_iterations(runs['protocol'])
    assert len(new_iterations) == len(old_iterations) == 3
    assert sum(new_iterations) < sum(old_iterations)
    chunks = sorted(
        (c for c in runs['protocol'].called if c.process_label == 'Cp2kBaseWorkChain'), key=lambda c: c.ctime
    )
    second = chunks[1].called[0]
    assert second.inputs.parent_calc_folder.pk == chunks[0].outputs.remote_folder.pk
    assert second.inputs.parameters['FORCE_EVAL']['DFT']['SCF']['SCF_GUESS'] == 'RESTART'


def test_selection_validation(cp2k_code, real_trajectory):
    for overrides, message in [
        ({'selection': {'stride_fs': 0.0}}, 'stride_fs must be positive'),
        ({'selection': {'stride_fs': 20.0, 'window_fs': None}}, 'keeps 1 frame'),
        ({'chunk_frames': 0}, 'chunk_frames must be positive'),
    ]:
        with pytest.raises(ValueError, match=message):
            run_get_node(ElectronicWorkChain.get_builder_from_protocol(cp2k_code, real_trajectory, 'fast', overrides))


def test_builder_takes_the_shared_cp2k_method_with_virtual_orbitals(cp2k_code, real_trajectory):
    """The method is cp2k_method.yaml's (no other workchain's protocol); OT gives way to diagonalisation with
    added MOs; ``scf`` and ``method`` overrides land in that SCF and method."""
    from aiida_qdots.protocols import cp2k_method

    overrides = {
        'scf': {'ADDED_MOS': 8},
        'method': {'parameters': {'GLOBAL': {'PRINT_LEVEL': 'MEDIUM'}}},
        'selection': {'stride_fs': 1.0},
    }
    builder = ElectronicWorkChain.get_builder_from_protocol(cp2k_code, real_trajectory, 'fast', overrides)
    parameters = builder.parameters.get_dict()
    expected = cp2k_method(['Cd', 'Cl', 'Se'], 'fast', {'orbitals': {'scf': {'ADDED_MOS': 8}}}, orbitals=True)
    expected['GLOBAL']['PRINT_LEVEL'] = 'MEDIUM'
    assert parameters == expected
    scf = parameters['FORCE_EVAL']['DFT']['SCF']
    assert 'OT' not in scf and 'OUTER_SCF' not in scf and scf['ADDED_MOS'] == 8 and scf['SCF_GUESS'] == 'MOPAC'
    assert parameters['FORCE_EVAL']['DFT']['PRINT']['MO']['EACH'] == {'QS_SCF': 0, 'MD': 1}
    with pytest.raises(ValueError, match=r'unknown override\(s\) scf_guess'):
        ElectronicWorkChain.get_builder_from_protocol(cp2k_code, real_trajectory, 'fast', {'scf_guess': 'ATOMIC'})


def test_snapshot_scf_converges_a_hot_small_gap_cluster(cp2k_code):
    """A Se-rich frame 11 fs into a 300 K MD from the unrelaxed build (HOMO-LUMO gap 0.09 eV): with DIIS switched
    on only below an error of 0.1 (the setting before) the density mixing stays in a 2-cycle and never converges; the
    protocol (DIIS from the second step) converges it."""
    import pathlib

    from ase.io import read

    atoms = read(pathlib.Path(__file__).parent / 'data' / 'se_rich_hot_frame.xyz')
    atoms.cell = [28.05058725] * 3
    converged = {}
    for name, scf in (('previous', {'EPS_DIIS': 0.1, 'MAX_SCF': 60}), ('protocol', {})):
        builder = ElectronicWorkChain.get_builder_for_elements(cp2k_code, ['Cd', 'H', 'Se'], 'fast', {'scf': scf})
        parameters = builder.parameters.get_dict()
        parameters['GLOBAL']['RUN_TYPE'] = 'ENERGY'
        single = WorkflowFactory('cp2k.base').get_builder()
        single.cp2k.code = cp2k_code
        single.cp2k.structure = orm.StructureData(ase=atoms)
        single.cp2k.parameters = orm.Dict(parameters)
        single.cp2k.metadata.options = {
            **builder.options.get_dict(),
            'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1},
        }
        single.max_iterations = orm.Int(1)
        _, node = run_get_node(single)
        converged[name] = node.is_finished_ok
        if node.is_finished_ok:
            gap = next(c for c in node.called if isinstance(c, orm.CalcJobNode)).outputs.mo_energies.get_array('gap')
            assert 0.0 < gap[0] < 0.3
    assert converged == {'previous': False, 'protocol': True}
