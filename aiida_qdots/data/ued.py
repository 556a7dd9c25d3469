"""Ultrafast electron diffraction (UED) data as AiiDA nodes: a validated table (read by
:mod:`aiida_qdots.readers.ued`, which describes the file format) stored as ArrayData, and a synthetic demo set.

A set is one (fluence, wavelength) pair; all sets share the same delays and peaks (a full grid). The node is an
ArrayData with ``delay_ps`` (D,), ``q_inv_angstrom`` (P,), ``intensity_ratio`` and ``intensity_ratio_err``
(S, D, P); attributes ``sets`` (fluence, wavelength of each), ``peaks``, ``units``, ``source`` (file name and
sha256) and ``synthetic`` (false, or the generator's parameters and noise).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
import pandas as pd
from aiida import orm

from aiida_qdots.analysis.debye_waller import intensity_ratio, wurtzite_q, wurtzite_reflections
from aiida_qdots.analysis.kinetics import KineticModel, gillespie
from aiida_qdots.common.files import file_sha256
from aiida_qdots.common.validation import UED_ARRAYS, RuleViolation, check_ued_arrays
from aiida_qdots.readers.ued import COLUMNS, read_ued_table

UNITS = {'fluence': 'mJ/cm^2', 'wavelength': 'nm', 'delay': 'ps', 'q': '1/angstrom', 'intensity_ratio': 'I/I0'}


def table_to_node(table: pd.DataFrame, source: dict, synthetic: dict | bool = False) -> orm.ArrayData:
    """The UED ArrayData of a validated table: a full (set, delay, peak) grid (error naming a gap otherwise) whose
    arrays pass :func:`~aiida_qdots.common.validation.check_ued_arrays` (a grid big enough for ``launch ued``)."""
    sets = table[['fluence_mj_cm2', 'wavelength_nm']].drop_duplicates().to_numpy()
    delays = np.sort(table['delay_ps'].unique())
    peaks = table.drop_duplicates('peak').sort_values('q_inv_angstrom')
    shape = (len(sets), delays.size, len(peaks))
    grid = table.set_index(['fluence_mj_cm2', 'wavelength_nm', 'delay_ps', 'peak'])
    expected = pd.MultiIndex.from_tuples([(f, w, d, p) for f, w in sets for d in delays for p in peaks['peak']])
    absent = expected.difference(grid.index)
    if len(absent):
        f, w, d, p = absent[0]
        raise RuleViolation(
            f'{source.get("file", "table")}: no row for fluence {f} mJ/cm^2, {w} nm, delay {d} ps, '
            f'peak {p} ({len(absent)} missing): every set needs every delay and peak',
            'shape',
        )
    ordered = grid.loc[expected]
    node = orm.ArrayData()
    node.set_array('delay_ps', delays)
    node.set_array('q_inv_angstrom', peaks['q_inv_angstrom'].to_numpy())
    node.set_array('intensity_ratio', ordered['intensity_ratio'].to_numpy().reshape(shape))
    node.set_array('intensity_ratio_err', ordered['intensity_ratio_err'].to_numpy().reshape(shape))
    check_ued_arrays(source.get('file') or 'UED table', *(node.get_array(name) for name in UED_ARRAYS))
    node.base.attributes.set_many(
        {
            'sets': [{'fluence_mj_cm2': float(f), 'wavelength_nm': float(w)} for f, w in sets],
            'peaks': peaks['peak'].tolist(),
            'units': UNITS,
            'source': source,
            'synthetic': synthetic,
            'convention': 'intensity_ratio[set, delay, peak] = I(t)/I0; Q = 2 pi / d',
        }
    )
    return node


def import_ued(path: str | pathlib.Path, label: str | None = None) -> orm.ArrayData:
    """Read, validate and store a UED file; the node records the file's name and sha256."""
    path = pathlib.Path(path)
    table = read_ued_table(path)
    node = table_to_node(table, {'file': path.name, 'sha256': file_sha256(path)})
    node.label = label or path.stem
    return node.store()


@dataclasses.dataclass(frozen=True)
class SyntheticSet:
    """One synthetic pump condition: fluence (mJ/cm^2) and the kinetic model (its wavelength included)."""

    fluence_mj_cm2: float
    model: KineticModel


DEMO_MODEL = KineticModel(tau_auger_ps=625.0, sigma_cm2=9.5e-16, diameter_nm=5.4, wavelength_nm=400.0)
"""The demo's particle: 5.4 nm CdSe, gap 2.0 eV, sigma 9.5e-16 cm^2 (<N> = 4.0 at 2.1 mJ/cm^2, 400 nm),
tau_AR = 625 ps, which gives the seed's regime: dT ~13 K after ~1.5 ns, the Auger part rising over ~200 ps."""
DEMO_SETS = (
    SyntheticSet(2.1, DEMO_MODEL),
    SyntheticSet(2.1, dataclasses.replace(DEMO_MODEL, wavelength_nm=340.0, tau_cool_ps=5.0, tau_trap_ps=4.0)),
)
"""The demo: 400 nm (no trapping) and 340 nm (hot holes trap in 4 ps, competing with their 5 ps cooling)."""
DEMO_SLOPE_A2_PER_K = 1.0e-4
"""d<u^2>/dT (3D, angstrom^2/K) used by the demo's forward model."""
DEMO_DELAYS_PS = np.concatenate([[-20.0, -10.0], np.arange(0.0, 50.0, 5.0), np.arange(50.0, 1501.0, 50.0)])


def synthetic_table(
    sets=DEMO_SETS,
    slope_a2_per_k: float = DEMO_SLOPE_A2_PER_K,
    delays_ps=DEMO_DELAYS_PS,
    q_max: float = 6.0,
    noise: float = 3e-4,
    n_trajectories: int = 20000,
    seed: int = 7,
) -> tuple[pd.DataFrame, dict]:
    """UED rows from the package's forward model: Gillespie dT(t) -> du2 = slope dT -> I/I0 = exp(-Q^2 du2 / 3)
    plus Gaussian noise of standard deviation ``noise``; returns the table and the generator's parameters."""
    rng = np.random.default_rng(seed)
    reflections = wurtzite_reflections(q_max)
    q = wurtzite_q(reflections)
    labels = [''.join(map(str, hkl)) for hkl in reflections]
    delays = np.asarray(delays_ps, dtype=float)
    rows = []
    for k, pump in enumerate(sets):
        run = gillespie(pump.model, pump.fluence_mj_cm2, n_trajectories, float(delays.max()), seed=seed + k)
        delta_t = np.where(delays >= 0, run.mean_energy(np.clip(delays, 0, None)), 0.0) / pump.model.heat_capacity_ev_k
        clean = intensity_ratio(q, slope_a2_per_k * delta_t)
        noisy = clean + rng.normal(0.0, noise, clean.shape)
        for i, delay in enumerate(delays):
            for j, label in enumerate(labels):
                rows.append((pump.fluence_mj_cm2, pump.model.wavelength_nm, delay, label, q[j], noisy[i, j], noise))
    parameters = {
        'generator': 'aiida_qdots.data.ued.synthetic_table (Gillespie SSA forward model)',
        'sets': [{'fluence_mj_cm2': s.fluence_mj_cm2, **dataclasses.asdict(s.model)} for s in sets],
        'slope_a2_per_k': slope_a2_per_k,
        'noise_intensity_ratio': noise,
        'n_trajectories': n_trajectories,
        'seed': seed,
        'q_max_inv_angstrom': q_max,
    }
    for entry in parameters['sets']:
        entry['tau_trap_ps'] = None if np.isinf(entry['tau_trap_ps']) else entry['tau_trap_ps']
    return pd.DataFrame(rows, columns=list(COLUMNS)), parameters


def synthetic_ued_node(**kwargs) -> orm.ArrayData:
    """Store the synthetic demo set (:func:`synthetic_table`), labelled ``synthetic`` with its parameters."""
    table, parameters = synthetic_table(**kwargs)
    node = table_to_node(table, {'file': None, 'sha256': None}, synthetic=parameters)
    node.label = 'synthetic UED demo (not measured data)'
    node.description = 'Generated by the aiida-qdots forward model; see the synthetic attribute for its parameters.'
    return node.store()
