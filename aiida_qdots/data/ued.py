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
from aiida_qdots.common.units import HC_EV_NM, MJ_EV
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


SEED_N_ATOMS = 16466
"""Atoms of the seed's CdSe/CdS particle as the package builds it: a 4.0 nm wurtzite CdSe core with eight CdS
monolayers, 9.6 nm across (``build_nanocrystal(40.0, shell_monolayers=8)``: Cd8233 Se609 S7624; the core size
is this package's choice, a core whose band edge with a thick CdS shell is near the model's 2.0 eV gap)."""
SIGMA_510_CM2 = 10.0 * (HC_EV_NM / 510.0) / MJ_EV
"""Absorption cross-section at 510 nm (3.9e-15 cm^2): the seed's <N> = 10 per mJ/cm^2, sigma = <N>/F x h nu."""
SIGMA_340_CM2 = 10.0 * SIGMA_510_CM2
"""At 340 nm (an assumption: the thick CdS shell, 93 % of the particle, absorbs above its 2.4-2.5 eV edge). Only
<N> = sigma F / h nu enters the kinetics, and the 340 nm set is pumped at the fluence that gives the 510 nm <N>."""
SIGMA_REL_ERR = 0.2
"""Relative standard uncertainty of the cross-sections (the seed's '~10 per mJ/cm^2')."""
SEED_MODEL = KineticModel(
    tau_auger_ps=625.0,
    tau_trap_ps=5.0,
    gap_ev=2.0,
    wavelength_nm=510.0,
    sigma_cm2=SIGMA_510_CM2,
    diameter_nm=9.6,
    n_atoms=SEED_N_ATOMS,
    trap_barrier_ev=0.2,
    auger_hole_fraction=0.25,
)
"""The seed's conditions at 510 nm: tau_AR = 625 ps, hot holes trap in tau_trap = 5 ps (3.5-7 ps) when above the
0.2 eV barrier (the seed's 0.1-0.36 eV): the photoexcited holes' 0.22 x 0.43 eV is below it, the Auger-made holes'
E_gap above it; Auger hot electrons : hot holes 3:1; heat capacity 3 N k_B of the particle's atoms."""
SEED_FLUENCE_MJ_CM2 = 2.1
SEED_340 = dataclasses.replace(SEED_MODEL, wavelength_nm=340.0, sigma_cm2=SIGMA_340_CM2, tau_cool_ps=5.0)
SEED_SETS = (
    SyntheticSet(SEED_FLUENCE_MJ_CM2, SEED_MODEL),
    SyntheticSet(SEED_MODEL.mean_pairs(SEED_FLUENCE_MJ_CM2) / SEED_340.mean_pairs(1.0), SEED_340),
)
"""510 nm at 2.1 mJ/cm^2 (<N> = 21) and 340 nm at the fluence of the same <N> (0.315 mJ/cm^2), where the
photoexcited holes (0.36 eV of excess) trap in 5 ps against their 5 ps cooling."""
DEMO_DELAYS_PS = np.concatenate(
    [[-20.0, -10.0], np.arange(0.0, 10.0, 1.0), np.arange(10.0, 50.0, 5.0), np.arange(50.0, 1501.0, 50.0)]
)


def synthetic_table(
    slope_a2_per_k: float,
    sets=SEED_SETS,
    delays_ps=DEMO_DELAYS_PS,
    q_max: float = 6.0,
    noise: float = 3e-4,
    n_trajectories: int = 100000,
    seed: int = 7,
) -> tuple[pd.DataFrame, dict]:
    """UED rows from the package's forward model: Gillespie dT(t) -> du2 = slope dT -> I/I0 = exp(-Q^2 du2 / 3)
    plus Gaussian noise of standard deviation ``noise``; returns the table and the generator's parameters. The
    slope d<u^2>/dT (3D, A^2/K) is the one the analysis will use (the MD's ``msd_slope``)."""
    if not slope_a2_per_k > 0:
        raise ValueError(f'd<u^2>/dT must be positive, got {slope_a2_per_k}')
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
        'sets': [
            {
                'fluence_mj_cm2': s.fluence_mj_cm2,
                **dataclasses.asdict(s.model),
                'mean_initial_pairs': s.model.mean_pairs(s.fluence_mj_cm2),
                'heat_capacity_ev_k': s.model.heat_capacity_ev_k,
            }
            for s in sets
        ],
        'sigma_rel_err': SIGMA_REL_ERR,
        'slope_a2_per_k': slope_a2_per_k,
        'noise_intensity_ratio': noise,
        'n_trajectories': n_trajectories,
        'seed': seed,
        'q_max_inv_angstrom': q_max,
    }
    for entry in parameters['sets']:
        entry['tau_trap_ps'] = None if np.isinf(entry['tau_trap_ps']) else entry['tau_trap_ps']
    return pd.DataFrame(rows, columns=list(COLUMNS)), parameters
