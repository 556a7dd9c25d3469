"""Electron diffraction forward model: Debye sum = direct double sum, G(r) peaks of a perfect wurtzite particle at
the lattice's neighbour distances, an isotropic Gaussian displacement gives exp(-Q^2 <u^2>/3), exact sine transform."""

import numpy as np
import pytest
from scipy.spatial.distance import pdist, squareform
from skued import affe

from aiida_qdots.analysis.diffraction import (
    debye_pattern,
    electron_form_factors,
    pair_histograms,
    reduced_intensity,
    sine_transform,
)
from aiida_qdots.analysis.pdf import pdf_peaks
from aiida_qdots.structures.nanocrystals import build_nanocrystal

A, C, U = 4.30, 7.01, 0.375


def _direct_debye(positions, symbols, q):
    """sum_ij f_i f_j sinc(Q r_ij), every pair one by one (i = j gives f_i^2)."""
    f = np.array([affe(s, q) for s in symbols])
    distance = squareform(pdist(positions))
    intensity = np.empty_like(q)
    for k, value in enumerate(q):
        x = value * distance
        sinc = np.where(x > 0, np.sin(x) / np.where(x > 0, x, 1.0), 1.0)
        intensity[k] = f[:, k] @ sinc @ f[:, k]
    return intensity


def test_debye_sum_equals_the_direct_double_sum():
    rng = np.random.default_rng(1)
    positions = rng.uniform(0.0, 12.0, (60, 3))
    symbols = rng.choice(['Cd', 'Se', 'S'], 60).tolist()
    q = np.linspace(0.3, 20.0, 300)
    direct = _direct_debye(positions, symbols, q)
    errors = [np.max(np.abs(debye_pattern(positions, symbols, q, dr=dr).intensity / direct - 1)) for dr in (4e-3, 1e-3)]
    assert errors[1] < 2e-6
    assert 8 < errors[0] / errors[1] < 24  # linear binning: the error falls as dr^2


def test_histograms_count_every_pair_once_per_frame():
    rng = np.random.default_rng(2)
    frames = rng.uniform(0, 10, (3, 40, 3))
    species = np.r_[np.zeros(15, int), np.ones(25, int)]
    counts = pair_histograms(frames, species, 2, 0.01)
    assert counts.sum(axis=1) == pytest.approx([15 * 14 / 2, 15 * 25, 25 * 24 / 2])
    # linear binning keeps the first moment: sum_k H_k r_k = sum of the distances
    r = np.arange(counts.shape[1]) * 0.01
    assert counts.sum(axis=0) @ r == pytest.approx(np.mean([pdist(f).sum() for f in frames]), rel=1e-12)


def _wurtzite_shells(r_max: float) -> list[float]:
    """Mean distance of each neighbour shell (distances within 0.1 A merged) of bulk wurtzite, from the lattice."""
    cell = np.array([[A, 0, 0], [-A / 2, A * np.sqrt(3) / 2, 0], [0, 0, C]])
    basis = np.array([[1 / 3, 2 / 3, 0], [2 / 3, 1 / 3, 0.5], [1 / 3, 2 / 3, U], [2 / 3, 1 / 3, 0.5 + U]])
    shifts = np.stack(np.meshgrid(*[np.arange(-3, 4)] * 3, indexing='ij'), -1).reshape(-1, 1, 3)
    lattice = ((basis[None] + shifts).reshape(-1, 3)) @ cell
    distance = np.sort(np.linalg.norm(lattice - basis[0] @ cell, axis=1))
    distance = distance[(distance > 0.1) & (distance < r_max)]
    groups = np.split(distance, np.flatnonzero(np.diff(distance) > 0.1) + 1)
    return [float(g.mean()) for g in groups]


def test_perfect_wurtzite_particle_has_its_peaks_at_the_lattice_distances():
    atoms = build_nanocrystal(30.0)
    q = np.arange(0.5, 25.0, 0.01)
    pattern = debye_pattern(atoms.positions, atoms.get_chemical_symbols(), q)
    r = np.arange(1.5, 6.0, 0.005)
    g = sine_transform(q, reduced_intensity(pattern), r, 1.0, 25.0, 'lorch')
    peaks = pdf_peaks(r, g, prominence=0.1)
    shells = _wurtzite_shells(5.5)
    assert shells == pytest.approx([2.63, 4.30, 5.04], abs=0.01)
    for shell in shells:
        assert np.min(np.abs(peaks - shell)) < 0.02, (shell, peaks)
    assert np.all(np.abs(peaks[peaks < 5.2] - np.array(shells)[:, None]).min(axis=0) < 0.02)  # no spurious peak


def test_isotropic_gaussian_displacement_gives_the_debye_waller_factor():
    """<sinc(Q |r_ij + u_i - u_j|)> = sinc(Q r_ij) exp(-Q^2 <u^2>/3) exactly; the self term does not change."""
    atoms = build_nanocrystal(22.0)
    symbols = atoms.get_chemical_symbols()
    q = np.arange(1.0, 8.0, 0.01)
    msd = 0.03  # angstrom^2, 3D
    static = debye_pattern(atoms.positions, symbols, q)
    self_term = static.n_atoms * static.mean_f2
    rng = np.random.default_rng(3)
    frames = atoms.positions + rng.normal(0, np.sqrt(msd / 3), (40, *atoms.positions.shape))
    distinct = np.array([debye_pattern(frame, symbols, q).intensity - self_term for frame in frames])
    peaks = np.flatnonzero(
        (static.intensity[1:-1] > static.intensity[:-2]) & (static.intensity[1:-1] > static.intensity[2:])
    )
    peaks = peaks[np.argsort(static.intensity[peaks + 1] - self_term[peaks + 1])[-5:]] + 1  # five Bragg-like peaks
    ratio = distinct[:, peaks] / (static.intensity[peaks] - self_term[peaks])
    expected = np.exp(-(q[peaks] ** 2) * msd / 3)
    sem = ratio.std(axis=0, ddof=1) / np.sqrt(len(ratio))
    assert np.all(np.abs(ratio.mean(axis=0) - expected) < 4 * sem + 1e-3), (ratio.mean(axis=0), expected, sem)
    assert np.all(np.abs(ratio.mean(axis=0) - expected) < 0.02)
    assert np.ptp(expected) > 0.1  # the peaks span enough Q to see the Q^2 law


def test_sine_transform_is_exact_for_a_single_distance():
    """F(Q) = sin(Q r0) on [0, Qm], no window: G(r) = [sin((r - r0) Qm)/(r - r0) - sin((r + r0) Qm)/(r + r0)] / pi."""
    q = np.linspace(0.0, 20.0, 20001)
    r0, r = 3.0, np.linspace(1.0, 5.0, 81) + 1e-3
    g = sine_transform(q, np.sin(q * r0), r, 0.0, 20.0, 'none')
    exact = (np.sin((r - r0) * 20) / (r - r0) - np.sin((r + r0) * 20) / (r + r0)) / np.pi
    assert g == pytest.approx(exact, abs=1e-5)


def test_normalisations_and_form_factors():
    q = np.linspace(1.0, 10.0, 91)
    positions = np.array([[0.0, 0, 0], [2.6, 0, 0], [0, 2.6, 0]])
    pattern = debye_pattern(positions, ['Cd', 'Se', 'Se'], q)
    f = electron_form_factors(['Cd', 'Se'], q)
    assert pattern.mean_f2 == pytest.approx((f[0] ** 2 + 2 * f[1] ** 2) / 3)
    assert reduced_intensity(pattern, 'atomic') == pytest.approx(
        reduced_intensity(pattern) * pattern.mean_f_squared / pattern.mean_f2
    )
    assert np.all(np.diff(f, axis=1) < 0) and np.all(f[0] > f[1])  # f_e falls with Q; heavier atom scatters more
    for call, message in (
        (lambda: debye_pattern(positions, ['Cd'] * 3, np.r_[0.0, 1.0]), '> 0'),
        (lambda: debye_pattern(positions, ['Cd'] * 3, np.r_[1.0, 2.0, 4.0]), 'uniformly'),
        (lambda: electron_form_factors(['Xx'], q), 'Xx'),
        (lambda: reduced_intensity(pattern, 'x-ray'), 'normalisation'),
        (lambda: sine_transform(q, q, q, 20.0, 30.0), 'fewer than 2'),
        (lambda: sine_transform(q, q, q, 1.0, 5.0, 'hann'), 'window'),
    ):
        with pytest.raises(ValueError, match=message):
            call()


def _trajectory(frames, symbols):
    from aiida import orm

    node = orm.TrajectoryData()
    node.set_trajectory(symbols=list(symbols), positions=frames, times=np.arange(len(frames)) * 4.0)
    return node.store()


def test_analyze_diffraction_stores_the_curves_and_how_they_were_processed(aiida_profile):
    """Two 'temperatures' as Gaussian disorder of 0.02 and 0.03 A^2: the hot G(r) loses height at the bond."""
    from aiida import orm

    from aiida_qdots.functions.diffraction import analyze_diffraction

    atoms = build_nanocrystal(20.0)
    rng = np.random.default_rng(4)
    trajectories = {
        name: _trajectory(atoms.positions + rng.normal(0, np.sqrt(msd / 3), (24, len(atoms), 3)), atoms.symbols)
        for name, msd in (('cold', 0.02), ('hot', 0.03))
    }
    parameters = {'nve_start_fs': 0.0, 'q_range': [1.0, 12.0], 'temperature_cold_k': 300.0, 'temperature_hot_k': 314.0}
    node = analyze_diffraction(orm.Dict(parameters), **trajectories)
    attributes = node.base.attributes
    assert attributes.get('q_range_inv_angstrom') == [1.0, 12.0] and attributes.get('window') == 'lorch'
    assert attributes.get('normalisation') == 'faber-ziman' and attributes.get('n_frames') == [24, 24]
    assert attributes.get('units')['g'] == '1/angstrom^2' and 'Kirkland' in attributes.get('form_factors')
    q, r = node.get_array('q_inv_angstrom'), node.get_array('r_angstrom')
    assert q[0] == 1.0 and q[-1] == pytest.approx(12.0) and r[-1] == pytest.approx(10.0)
    assert abs(attributes.get('peaks_cold_angstrom')[0] - 2.63) < 0.03
    bond = np.argmin(np.abs(r - 2.63))
    assert node.get_array('delta_g')[bond] < -0.05 * node.get_array('g_cold')[bond]
    np.testing.assert_allclose(
        node.get_array('delta_g'), sine_transform(q, node.get_array('delta_reduced'), r, 1.0, 12.0), atol=1e-10
    )
    with pytest.raises(ValueError, match='0 < q_min < q_max'):
        analyze_diffraction(orm.Dict({**parameters, 'q_range': [5.0, 1.0]}), **trajectories)
