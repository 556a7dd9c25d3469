"""qdots.vibrations with real CP2K (GFN1-xTB, `fast`): symmetry selection rules, CP2K cross-checks, invariances."""

import os
import pathlib

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from scipy.spatial.transform import Rotation

from aiida_qdots.analysis.vibrations import degenerate_sums
from aiida_qdots.workchains.vibrations import VibrationsWorkChain

BOX = 10.0


def molecule(symbols, positions, rotation=None) -> orm.StructureData:
    positions = np.asarray(positions, dtype=float)
    if rotation is not None:
        positions = positions @ rotation.T
    structure = orm.StructureData(cell=np.eye(3) * BOX, pbc=(False, False, False))
    for symbol, position in zip(symbols, positions + BOX / 2, strict=True):
        structure.append_atom(position=position, symbols=symbol)
    return structure


def methane(rotation=None) -> orm.StructureData:
    a = 1.09 / np.sqrt(3)
    corners = a * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
    return molecule(['C', 'H', 'H', 'H', 'H'], np.vstack([[0, 0, 0], corners]), rotation)


def run_vibrations(code, structure, relax=True):
    builder = VibrationsWorkChain.get_builder_from_protocol(code, structure, protocol='fast', relax=relax)
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    return node


def degenerate_sets(wavenumbers, tolerance=1.0):
    """Groups of mode indices within ``tolerance`` cm^-1 of their neighbour."""
    groups = [[0]]
    for m in range(1, len(wavenumbers)):
        (groups[-1].append if wavenumbers[m] - wavenumbers[m - 1] < tolerance else lambda i: groups.append([i]))(m)
    return groups


def test_methane_selection_rules_depolarization_and_cp2k_agreement(cp2k_code):
    """CH4 (Td): modes of one a1, one e and two t2 sets; all Raman active, only t2 IR active; the totally symmetric a1
    stretch is polarized (rho ~ 0), e and t2 depolarized (3/4); the package's frequencies, Raman activities and IR
    intensities equal CP2K's own VIB| table."""
    node = run_vibrations(cp2k_code, methane())
    modes = node.outputs.modes
    w = modes.get_array('wavenumbers')
    raman, ir = modes.get_array('raman_activities'), modes.get_array('ir_intensities')
    rho = modes.get_array('depolarization_ratios')
    sets = degenerate_sets(w)
    assert sorted(len(s) for s in sets) == [1, 2, 3, 3], w
    (e,) = [s for s in sets if len(s) == 2]
    ((a1,),) = [s for s in sets if len(s) == 1]
    t2 = [m for s in sets if len(s) == 3 for m in s]
    assert rho[a1] < 0.01 and raman[a1] > 0.1 * raman.max()
    assert rho[e + t2] == pytest.approx(0.75, abs=0.01)
    assert ir[[*e, a1]].max() < 1e-3 * ir.max()
    assert ir[t2].min() > 1e-2 * ir.max()
    check = node.outputs.summary['cp2k_check']
    assert check['max_abs_difference_wavenumbers'] < 0.5
    assert check['max_abs_difference_raman_activities'] < 1e-2 * raman.max()  # sums over degenerate sets
    assert check['max_abs_difference_ir_intensities'] < 1e-3 * ir.max()
    with node.outputs.molden.as_path() as path:
        assert 'vibration 9' in path.read_text()
    if os.environ.get('QDOTS_PROVENANCE_GRAPH'):  # regenerate docs/images/vibrations_provenance.png
        from aiida.tools.visualization import Graph

        graph = Graph(graph_attr={'rankdir': 'TB'})
        graph.recurse_descendants(node, include_process_inputs=True)
        path = pathlib.Path(os.environ['QDOTS_PROVENANCE_GRAPH'])  # graphviz appends the format's suffix
        graph.graphviz.render(path.with_suffix(''), format=path.suffix[1:] or 'png', cleanup=True)


def test_carbon_dioxide_raman_only_in_the_symmetric_stretch(cp2k_code):
    """CO2 (D-inf-h): of pi_u bend, sigma_g+ and sigma_u+ stretches only sigma_g+ is Raman active (and IR silent)."""
    node = run_vibrations(cp2k_code, molecule(['O', 'C', 'O'], [[0, 0, -1.16], [0, 0, 0], [0, 0, 1.16]]))
    modes = node.outputs.modes
    w, raman, ir = (modes.get_array(k) for k in ('wavenumbers', 'raman_activities', 'ir_intensities'))
    assert len(w) == 4
    vectors = modes.get_array('eigenvectors').reshape(3, 3, -1)
    carbon_still = np.abs(vectors[1]).max(axis=0) < 1e-3  # sigma_g+: the oxygens move, carbon does not
    (sigma_g,) = np.flatnonzero(carbon_still)
    others = np.flatnonzero(~carbon_still)
    assert raman[others].max() < 1e-3 * raman[sigma_g]
    assert ir[sigma_g] < 1e-3 * ir.max()


def test_raman_activities_invariant_under_rotation_of_the_molecule(cp2k_code):
    plain = run_vibrations(cp2k_code, methane(), relax=False).outputs.modes
    turned = run_vibrations(cp2k_code, methane(Rotation.random(random_state=8).as_matrix()), relax=False).outputs.modes
    w = plain.get_array('wavenumbers')
    assert turned.get_array('wavenumbers') == pytest.approx(w, rel=1e-4)
    for key in ('raman_activities', 'ir_intensities'):  # a degenerate set's basis is arbitrary: compare its sums
        expected = degenerate_sums(w, plain.get_array(key))
        assert degenerate_sums(w, turned.get_array(key)) == pytest.approx(expected, rel=2e-3, abs=1e-3), key


def test_frequencies_equal_an_independent_finite_difference_hessian(cp2k_code, tmp_path):
    """The package's frequencies (CP2K's Hessian, our projection) equal those of a Hessian built here from CP2K
    forces of displaced single points (6N ENERGY_FORCE runs, no AiiDA)."""
    from cp2k_forces import displaced_force_hessian

    structure = methane()
    modes = run_vibrations(cp2k_code, structure, relax=False).outputs.modes
    wavenumbers = displaced_force_hessian(structure, tmp_path)
    assert wavenumbers == pytest.approx(modes.get_array('wavenumbers'), abs=0.5)


@pytest.mark.slow
@pytest.mark.parametrize('composition', ['se-rich', 'cd-rich'])
def test_relaxed_cluster_main_optical_raman_peak(cp2k_code, composition):
    """GFN1-xTB relaxation + vibrational analysis of arrangement 0: all modes real, a main optical peak made of core
    modes, and the ligand bands assigned (prints the numbers reported in docs/vibrations.md)."""
    import time

    from aiida_qdots.functions.clusters import build_cluster

    start = time.monotonic()
    node = run_vibrations(cp2k_code, build_cluster(orm.Str(composition), orm.Int(0)))
    summary = node.outputs.summary.get_dict()
    modes = node.outputs.modes
    assert summary['n_imaginary'] == 0 and len(modes.get_array('wavenumbers')) == 3 * 67 - 6
    assert 120 < summary['raman_peak_cm1'] < 400
    assignments = modes.base.attributes.get('assignments')
    ligand = 'Se-H' if composition == 'se-rich' else 'Cd-Cl'
    assert any(label.startswith(ligand) for label in assignments)
    print(composition, f'{time.monotonic() - start:.0f} s', summary['raman_peak_cm1'], summary['peak_modes'])
