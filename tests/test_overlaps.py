"""qdots.overlaps: MOLDEN orbitals from a real CP2K REFTRAJ run, PySCF cross-overlaps, self-checks."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from aiida.plugins import WorkflowFactory

from aiida_qdots.analysis.overlaps import OrthonormalityError, load_orbitals, molden_files, time_overlaps
from aiida_qdots.calculations.overlaps import OverlapsCalculation
from aiida_qdots.functions.electronic import select_frames
from aiida_qdots.workchains.electronic import ElectronicWorkChain, reftraj_parameters


@pytest.fixture
def reftraj_with_molden(cp2k_code, real_trajectory):
    """CP2K REFTRAJ over the 5 imported frames with one MOLDEN file per MD step."""
    builder = ElectronicWorkChain.get_builder_for_elements(cp2k_code, real_trajectory.symbols, 'fast')
    frames = select_frames(real_trajectory, orm.List(list(range(5))))
    base = WorkflowFactory('cp2k.base').get_builder()
    base.cp2k.code = cp2k_code
    base.cp2k.structure = frames.get_step_structure(0)
    base.cp2k.trajectory = frames
    base.cp2k.parameters = orm.Dict(reftraj_parameters(builder.parameters.get_dict(), 5, molden=True))
    base.cp2k.metadata.options = builder.options.get_dict()
    _, node = run_get_node(base)
    assert node.is_finished_ok, node.exit_message
    return node


def test_overlaps_calcjob_on_real_molden_files(python_code, reftraj_with_molden, tmp_path):
    builder = OverlapsCalculation.get_builder()
    builder.code = python_code
    builder.parent_folder = reftraj_with_molden.outputs.remote_folder
    builder.window = orm.Dict({'below': 3, 'above': 3})
    _, calc = run_get_node(builder)
    assert calc.is_finished_ok, calc.exit_message
    result = calc.outputs.overlaps
    energies, overlaps = result.get_array('energies'), result.get_array('overlaps')
    steps = result.get_array('steps')
    assert energies.shape == (len(steps), 6) and overlaps.shape == (len(steps) - 1, 6, 6)
    assert result.base.attributes.get('max_orthonormality_error') < 1e-6
    # 1 fs apart, every orbital overlaps mostly with itself; overlaps of a unitary map keep the norm
    assert np.all(np.abs(np.diagonal(overlaps, axis1=1, axis2=2)) > 0.9)
    assert np.all(np.linalg.norm(overlaps, axis=2) <= 1.0 + 1e-6)
    # the same orbital energies as CP2K's own &MO printout of those steps (two independent readers)
    mo = next(c for c in reftraj_with_molden.called if isinstance(c, orm.CalcJobNode)).outputs.mo_energies
    homo = result.get_array('homo_index')
    frames = steps - 1  # aiida-cp2k numbers REFTRAJ frame k as MD step k + 1; MOLDEN starts at the second
    np.testing.assert_allclose(energies[:, homo], mo.get_array('homo')[frames], atol=1e-5)
    np.testing.assert_allclose(energies[:, homo + 1], mo.get_array('lumo')[frames], atol=1e-5)

    # the orthonormality self-check catches a wrong AO order
    remote = reftraj_with_molden.outputs.remote_folder.get_remote_path()
    path = molden_files(remote)[0]
    assert load_orbitals(path)[2].shape[1] >= 6
    assert time_overlaps(molden_files(remote)[:2], 2, 2)['orthonormality_error'].max() < 1e-6
    shuffled = tmp_path / 'shuffled-MOS-1_1.molden'
    text = path.read_text()
    start = text.index('[MO]')
    shuffled.write_text(text[:start] + _permute_first_coefficients(text[start:]))
    with pytest.raises(OrthonormalityError, match='not orthonormal'):
        time_overlaps([shuffled, molden_files(remote)[1]], 2, 2)


def _permute_first_coefficients(mo_section: str) -> str:
    """Swap the coefficients of AO 1 and AO 2 in every orbital (an AO-ordering error)."""
    lines = mo_section.splitlines()
    for k, line in enumerate(lines):
        parts = line.split()
        if len(parts) == 2 and parts[0] == '1' and k + 1 < len(lines) and lines[k + 1].split()[0] == '2':
            lines[k], lines[k + 1] = ('1 ' + lines[k + 1].split()[1]), ('2 ' + parts[1])
    return '\n'.join(lines) + '\n'


def test_window_validation(python_code, aiida_localhost):
    builder = OverlapsCalculation.get_builder()
    with pytest.raises(ValueError, match=r'window\.below must be a positive integer'):
        builder.window = orm.Dict({'below': 0, 'above': 2})
