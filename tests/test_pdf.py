"""G(r) of finite particles: ideal neighbour distances of a perfect wurtzite particle; zero for an ideal-gas sphere."""

import numpy as np
import pytest

from aiida_qdots.analysis.pdf import electron_weights, pdf_peaks, reduced_pdf, sphere_shape_function
from aiida_qdots.structures.nanocrystals import build_nanocrystal


def test_perfect_wurtzite_particle_has_peaks_at_the_ideal_distances():
    atoms = build_nanocrystal(30.0)
    r, g = reduced_pdf(atoms.positions, atoms.get_chemical_symbols(), r_max=8.0, dr=0.01)
    peaks = pdf_peaks(r, g, prominence=0.1)
    a, c, u = 4.30, 7.01, 0.375
    bond = u * c
    second = [a, np.sqrt(a**2 / 3 + c**2 / 4)]
    assert abs(peaks[0] - bond) < 0.011
    assert any(abs(p - d) < 0.02 for p in peaks for d in second)
    assert np.all(np.abs(g[r < 2.3]) < 1e-12 + 4 * np.pi * r[r < 2.3] * len(atoms))  # nothing closer than a bond
    assert np.all(g[r < 2.3] <= 0)


def test_ideal_gas_sphere_gives_zero_only_with_the_shape_correction():
    rng = np.random.default_rng(0)
    radius = 15.0
    points = rng.uniform(-radius, radius, (40000, 3))
    points = points[np.linalg.norm(points, axis=1) < radius][:6000]
    frames = np.stack([points, rng.permutation(points)])  # same statistics, two frames to exercise averaging
    r, g = reduced_pdf(frames, ['Cd'] * len(points), r_max=10.0, dr=0.1, radius=radius)
    window = r > 2.0
    density = len(points) / (4 / 3 * np.pi * radius**3)
    uniform = 4 * np.pi * r * density * sphere_shape_function(r, radius)  # what G subtracts
    # relative residual: pair counts of N random points fluctuate coherently by O(1/sqrt(N)), ~1 %
    assert abs(np.mean(g[window] / uniform[window])) < 0.02
    # without the shape function the bulk term 4 pi r rho0 would leave a bias of tens of percent at 10 A
    assert 1 - sphere_shape_function(10.0, radius) > 0.4


def test_weights_and_shape_function():
    assert electron_weights(['Cd', 'Se', 'S']).tolist() == [48.0, 34.0, 16.0]
    assert sphere_shape_function([0.0, 2.0, 3.0], 1.0).tolist() == [1.0, 0.0, 0.0]
    with pytest.raises(KeyError):
        electron_weights(['Xx'])
