"""Calcfunctions of ``qdots.phonons``: normal modes + DOS, mode lifetimes, MSD(T) slope and G(r) / dG(r).

Kernels: :mod:`aiida_qdots.analysis.normal_modes`, :mod:`~aiida_qdots.analysis.mode_lifetimes`,
:mod:`~aiida_qdots.analysis.thermal_msd` and :mod:`~aiida_qdots.analysis.pdf`. MD trajectories are the
``trajectory`` outputs of ``qdots.lammps`` runs (positions in angstrom, velocities in angstrom/fs, times in fs);
only frames of the NVE stage (time >= ``nve_start_fs``) are analysed. Frequencies in THz and cm^-1, times in fs.
"""

from __future__ import annotations

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.analysis.bragg_slope import MIN_BLOCKS, bragg_du2_slope
from aiida_qdots.analysis.fluctuations import atomic_masses
from aiida_qdots.analysis.mode_lifetimes import (
    gle_lifetimes,
    lorentzian_lifetimes,
    mode_autocorrelation,
    project_velocities,
)
from aiida_qdots.analysis.normal_modes import hessian_checks, normal_modes, phonon_dos
from aiida_qdots.analysis.pdf import pdf_peaks, reduced_pdf
from aiida_qdots.analysis.thermal_msd import (
    DEBYE_WALLER_CONVENTION,
    ELECTRON_WEIGHTED,
    energy_temperatures,
    msd_by_element,
    msd_temperature_slope,
    scattering_weights,
)
from aiida_qdots.common.output_keys import (
    BRAGG_WEIGHTING,
    MSD_SLOPE_BY_WEIGHTING_KEY,
    MSD_SLOPE_KEY,
    MSD_SLOPE_KEYS,
    MSD_SLOPE_STDERR_KEY,
    MSD_SLOPE_WEIGHTING_KEY,
)
from aiida_qdots.functions.ued_patterns import ENERGY_SCALE, PATTERN_DEFAULTS, nve_thermo

WEIGHTINGS = {'electron_scattering': ELECTRON_WEIGHTED, 'atoms': 'all'}
"""Names of the msd_slope weightings -> the <u^2> series they fit."""
BRAGG_DEFAULTS = {
    **{key: PATTERN_DEFAULTS[key] for key in ('q_range', 'prominence', 'max_peaks')},
    'pattern_q_range': [1.0, 8.0],
    'q_step': 0.01,
    'max_frames': 50,
    'n_blocks': MIN_BLOCKS,
    'reference_k': 300.0,
}
"""Settings of the Bragg-peak slope (``msd.bragg``, Q in 1/angstrom, K): peaks searched in ``q_range`` of patterns on
``pattern_q_range`` with ``q_step`` (the UED pattern route's defaults and the demo patterns' grid), at most
``max_frames`` of each MSD run's frames in ``n_blocks`` contiguous blocks, I0 the run closest to ``reference_k``."""


def validate_bragg(settings: dict) -> str | None:
    """One line on what is wrong with Bragg-slope ``settings`` (merged on :data:`BRAGG_DEFAULTS`), else None."""
    unknown = set(settings) - set(BRAGG_DEFAULTS)
    if unknown:
        return f'unknown bragg setting(s) {", ".join(sorted(unknown))}; known: {", ".join(BRAGG_DEFAULTS)}'
    p = {**BRAGG_DEFAULTS, **settings}
    try:
        (q_min, q_max), (p_min, p_max) = ((float(x) for x in p[k]) for k in ('q_range', 'pattern_q_range'))
        numbers = [float(p[k]) for k in ('q_step', 'prominence', 'reference_k')]
        counts = [p[k] for k in ('max_frames', 'n_blocks', 'max_peaks')]
    except (TypeError, ValueError):
        return f'bragg q ranges must be [min, max] (1/A) and q_step, prominence, reference_k numbers, got {p}'
    if not (0 < p_min <= q_min < q_max <= p_max and 0 < numbers[0] < q_max - q_min and min(numbers[1:]) > 0):
        return (
            f'bragg needs 0 < pattern_q_range[0] <= q_min < q_max <= pattern_q_range[1] and positive q_step, '
            f'prominence, reference_k, got {p}'
        )
    if any(isinstance(c, bool) or not isinstance(c, int) for c in counts) or not (
        counts[1] >= MIN_BLOCKS and counts[0] >= 2 * counts[1] and counts[2] >= 3
    ):
        return f'bragg needs integers n_blocks >= {MIN_BLOCKS}, max_frames >= 2 n_blocks, max_peaks >= 3, got {counts}'
    return None


THERMO_PREFIX = 'thermo_'
"""Prefix of the ``analyze_msd`` inputs that carry an MD run's thermo (``thermo_<trajectory key>``)."""


def spread_frames(n_frames: int, max_frames: int) -> slice:
    """The frames the G(r) and diffraction analyses read: every ``n_frames // max_frames``-th, from the first."""
    return slice(None, None, max(1, n_frames // int(max_frames)))


def coarsest_dump(n_frames: int, max_frames: list[int]) -> int:
    """The largest g such that dumping every g-th of ``n_frames`` frames makes :func:`spread_frames` of each
    ``max_frames`` read the same frames as from all of them, keeping the 16 frames :func:`nve_frames` asks for
    (1 when no g > 1 does)."""
    wanted = [range(n_frames)[spread_frames(n_frames, m)] for m in max_frames]
    for g in range(min(w.step for w in wanted), 1, -1):
        kept = range(0, n_frames, g)
        if len(kept) < 16:
            continue
        if all(
            list(w) == [kept[i] for i in range(len(kept))[spread_frames(len(kept), m)]]
            for w, m in zip(wanted, max_frames, strict=True)
        ):
            return g
    return 1


def nve_frames(trajectory: orm.TrajectoryData, nve_start_fs: float) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Positions, velocities (or None) and the frame spacing (fs) of the frames at time >= ``nve_start_fs``."""
    times = trajectory.get_array('times')
    keep = times >= nve_start_fs - 1e-6
    if keep.sum() < 16:
        raise ValueError(f'trajectory <{trajectory.pk}> has {keep.sum()} NVE frames; need at least 16')
    velocities = trajectory.get_array('velocities')[keep] if 'velocities' in trajectory.get_arraynames() else None
    return trajectory.get_array('positions')[keep], velocities, float(np.median(np.diff(times[keep])))


@calcfunction
def analyze_normal_modes(
    hessian: orm.ArrayData, structure: orm.StructureData, parameters: orm.Dict
) -> dict[str, orm.Data]:
    """Normal modes (rigid-body modes projected out) and Gaussian-broadened DOS (``dos_width_thz``)."""
    atoms = structure.get_ase()
    matrix = hessian.get_array('hessian')
    checks = hessian_checks(matrix, atoms.positions)
    raw = normal_modes(matrix, atoms.get_masses(), atoms.positions, project_rigid=False)
    modes = normal_modes(matrix, atoms.get_masses(), atoms.positions)
    vibrational = modes.frequencies_thz[~modes.rigid_mask]
    width = float(parameters.get_dict().get('dos_width_thz', 0.1))
    grid = np.linspace(min(0.0, vibrational.min()) - 5 * width, vibrational.max() + 5 * width, 1000)
    modes_node = orm.ArrayData()
    modes_node.set_array('frequencies_thz', modes.frequencies_thz)
    modes_node.set_array('wavenumbers_cm1', modes.wavenumbers_cm1)
    modes_node.set_array('angular_frequencies_per_fs', modes.angular_frequencies)
    modes_node.set_array('eigenvectors', modes.eigenvectors)
    modes_node.set_array('rigid_mask', modes.rigid_mask)
    modes_node.base.attributes.set_many(
        {
            'units': {'frequencies_thz': 'THz', 'wavenumbers_cm1': 'cm^-1', 'angular_frequencies_per_fs': 'rad/fs'},
            'convention': 'eigenvectors[:, k]: mass-weighted, orthonormal; negative frequency = imaginary mode; '
            'rigid-body modes projected out (Eckart) and marked by rigid_mask',
        }
    )
    dos = orm.ArrayData()
    dos.set_array('frequency_thz', grid)
    dos.set_array('dos_per_thz', phonon_dos(vibrational, grid, width))
    dos.base.attributes.set_many(
        {
            'units': {'frequency_thz': 'THz', 'dos_per_thz': 'states/THz'},
            'width_thz': width,
            'n_modes': int(vibrational.size),
        }
    )
    summary = orm.Dict(
        {
            **checks,
            'n_atoms': len(atoms),
            'n_vibrational_modes': int(vibrational.size),
            'n_rigid_modes': int(modes.rigid_mask.sum()),
            'rigid_max_thz_unprojected': raw.rigid_max_thz,
            'max_imaginary_thz': modes.max_imaginary_thz,
            'max_frequency_thz': float(vibrational.max()),
            'dos_integral': float(np.trapezoid(dos.get_array('dos_per_thz'), grid)),
        }
    )
    return {'normal_modes': modes_node, 'dos': dos, 'modes_summary': summary}


@calcfunction
def analyze_lifetimes(
    trajectory: orm.TrajectoryData, normal_modes: orm.ArrayData, parameters: orm.Dict
) -> dict[str, orm.Data]:
    """Per-mode lifetimes (fs) from the NVE velocities: 1/Re K(i w) of the GLE friction and the Lorentzian linewidth."""
    p = parameters.get_dict()
    _, velocities, dt = nve_frames(trajectory, float(p['nve_start_fs']))
    if velocities is None:
        raise ValueError(f'trajectory <{trajectory.pk}> has no velocities')
    rigid = normal_modes.get_array('rigid_mask')
    omega = normal_modes.get_array('angular_frequencies_per_fs')[~rigid]
    masses = atomic_masses([str(s) for s in trajectory.symbols])
    qdot = project_velocities(velocities, masses, normal_modes.get_array('eigenvectors')[:, ~rigid])
    max_lag = min(len(qdot) // 2, max(16, int(float(p.get('max_lag_fs', 2000.0)) / dt)))
    c = mode_autocorrelation(qdot, max_lag)
    tau_gle, gle = gle_lifetimes(c, dt, omega, run_fs=(len(qdot) - 1) * dt)
    tau_lorentz, line = lorentzian_lifetimes(c, dt, omega)
    node = orm.ArrayData()
    node.set_array('frequency_thz', normal_modes.get_array('frequencies_thz')[~rigid])
    node.set_array('tau_gle_fs', tau_gle)
    node.set_array('tau_lorentzian_fs', tau_lorentz)
    node.set_array('amplitude_lifetime_gle_fs', gle['amplitude_lifetime_fs'])
    node.set_array('amplitude_lifetime_lorentzian_fs', line['amplitude_lifetime_fs'])
    node.set_array('peak_frequency_thz', gle['effective_angular_frequency_per_fs'] / (2 * np.pi) * 1e3)
    node.set_array('fwhm_thz', line['fwhm_thz'])
    node.set_array('friction_per_fs', gle['friction_per_fs'])
    node.set_array('friction_imag_per_fs', gle['friction_imag_per_fs'])
    node.set_array('undamped', gle['undamped'])
    node.set_array('resolution_limited', line['resolution_limited'])
    node.base.attributes.set_many(
        {
            'units': {'tau': 'fs', 'frequency_thz': 'THz', 'friction': '1/fs'},
            'frame_spacing_fs': dt,
            'max_lag_fs': max_lag * dt,
            'resolution_thz': line['resolution_thz'],
            'convention': "tau = 1/Re K(i w) = 1/(2 pi FWHM), the energy (population) lifetime, as phono3py's "
            '1/(2 Gamma); amplitude lifetime = 2 tau; Lorentzian: fit of the exact Hann-tapered Langevin line, '
            'tau = 1/gamma; inf = not decayed within the run (GLE) / gamma t_max < 2 (Lorentzian)',
        }
    )
    finite = np.isfinite(tau_gle)
    summary = orm.Dict(
        {
            'temperature_k': p.get('temperature_k'),
            'n_modes': int(omega.size),
            'n_resolved_gle': int(finite.sum()),
            'median_tau_gle_fs': float(np.median(tau_gle[finite])) if finite.any() else None,
            'median_tau_lorentzian_fs': float(np.median(tau_lorentz[np.isfinite(tau_lorentz)]))
            if np.isfinite(tau_lorentz).any()
            else None,
            'units': {'tau': 'fs'},
        }
    )
    return {'lifetimes': node, 'lifetimes_summary': summary}


@calcfunction
def analyze_msd(parameters: orm.Dict, **runs: orm.ArrayData) -> dict[str, orm.Data]:
    """<u^2>(T) per element (NVE frames, at most ``max_frames`` spread over each run, rigid motion removed; the frames
    read per temperature in ``n_frames``) and the slopes d<u^2>/dT (A^2/K) of the atom mean and,
    with ``weighting_q_range`` (1/A) in ``parameters``, of the electron-scattering-weighted mean, which is then the
    main slope; ``parameters['temperatures']`` maps each trajectory key to its temperature (K). With ``bragg``
    (:data:`BRAGG_DEFAULTS`), also the slope of the du2 the Bragg-peak route reads from the same frames
    (:func:`~aiida_qdots.analysis.bragg_slope.bragg_du2_slope`), under ``by_weighting['bragg_peaks']``, against
    the runs' measured temperatures when their thermo is given as ``thermo_<key>`` (:func:`bragg_temperatures`)."""
    p = parameters.get_dict()
    trajectories = {k: v for k, v in runs.items() if not k.startswith(THERMO_PREFIX)}
    thermo = {k[len(THERMO_PREFIX) :]: v for k, v in runs.items() if k.startswith(THERMO_PREFIX)}
    q_range = p.get('weighting_q_range')
    weights = None
    bragg = None if p.get('bragg') is None else {**BRAGG_DEFAULTS, **p['bragg']}
    temperatures, rows, n_frames, frames = [], [], [], []
    keys = sorted(trajectories, key=lambda k: p['temperatures'][k])
    for key in keys:
        positions, _, _ = nve_frames(trajectories[key], float(p['nve_start_fs']))
        if p.get('max_frames'):
            positions = positions[spread_frames(len(positions), p['max_frames'])]
        n_frames.append(len(positions))
        if bragg:
            frames.append(positions[spread_frames(len(positions), bragg['max_frames'])])
        symbols = [str(s) for s in trajectories[key].symbols]
        weights = scattering_weights(symbols, q_range) if q_range and weights is None else weights
        temperatures.append(float(p['temperatures'][key]))
        rows.append(msd_by_element(positions, symbols, element_weights=weights))
    names = list(rows[0])
    msd = orm.ArrayData()
    msd.set_array('temperature_k', np.array(temperatures))
    msd.set_array('n_frames', np.array(n_frames))
    for name in names:
        msd.set_array(f'msd_{name}_A2', np.array([row[name]['msd_A2'] for row in rows]))
        msd.set_array(f'sem_{name}_A2', np.array([row[name]['sem_A2'] for row in rows]))
    msd.base.attributes.set_many(
        {'units': {'msd': 'angstrom^2', 'temperature': 'K'}, 'convention': DEBYE_WALLER_CONVENTION, 'groups': names}
    )
    fits = {
        name: msd_temperature_slope(
            temperatures, msd.get_array(f'msd_{name}_A2'), np.maximum(msd.get_array(f'sem_{name}_A2'), 1e-12)
        )
        for name in names
    }
    by_weighting = {w: {k: fits[name][k] for k in MSD_SLOPE_KEYS} for w, name in WEIGHTINGS.items() if name in fits}
    weighting = 'electron_scattering' if weights else 'atoms'
    extra = {}
    if bragg:
        measured = bragg_temperatures([thermo.get(k) for k in keys], temperatures, len(symbols), bragg['reference_k'])
        # I0: the run nominally nearest reference_k, at its measured temperature
        settings = {**bragg, 'reference_k': measured.pop('reference_k')}
        result = bragg_slope(frames, measured.pop('temperatures_k'), symbols, settings, by_weighting[weighting])
        extra[BRAGG_WEIGHTING] = {**result, **measured, 'nominal_temperatures_K': temperatures}
        by_weighting[BRAGG_WEIGHTING] = {k: extra[BRAGG_WEIGHTING][k] for k in MSD_SLOPE_KEYS}
    slope = orm.Dict(
        {
            **by_weighting[weighting],
            MSD_SLOPE_WEIGHTING_KEY: weighting,
            MSD_SLOPE_BY_WEIGHTING_KEY: by_weighting,
            'element_weights': weights,
            'weighting_q_range_inv_angstrom': q_range,
            'by_element': {
                name: {k: fits[name][k] for k in MSD_SLOPE_KEYS} for name in names if name not in WEIGHTINGS.values()
            },
            'fit': fits[WEIGHTINGS[weighting]],
            'temperatures_K': temperatures,
            **extra,
            'convention': DEBYE_WALLER_CONVENTION + '; weightings: electron_scattering = sum_a w_a <u^2>_a with '
            'w_a = N_a <f_a(Q)^2>_Q / sum_b N_b <f_b(Q)^2>_Q over weighting_q_range (Kirkland electron scattering '
            'factors), atoms = mean over all atoms, bragg_peaks = the du2 the Bragg-peak route reads from the mean '
            'Debye patterns of the runs (I0: the run nearest reference_k; details under bragg_peaks)',
        }
    )
    return {'msd': msd, 'msd_slope': slope}


def bragg_temperatures(thermo: list, nominal: list, n_atoms: int, reference_k: float) -> dict:
    """The temperatures (K) the Bragg slope is read against: with every run's ``thermo``, the runs' measured ones on
    the kinetic model's energy scale (:func:`~aiida_qdots.analysis.thermal_msd.energy_temperatures`; reference: the
    run nominally nearest ``reference_k``), else the ``nominal`` ones."""
    reference = int(np.argmin(np.abs(np.asarray(nominal) - float(reference_k))))
    if any(t is None for t in thermo):
        return {'temperatures_k': list(nominal), 'temperature_scale': 'nominal', 'reference_k': nominal[reference]}
    runs = [nve_thermo(t) for t in thermo]
    measured = energy_temperatures(
        [r['total_energy_ev'] for r in runs], n_atoms, reference, runs[reference]['kinetic_temperature_k']
    )
    return {
        'temperatures_k': measured.tolist(),
        'temperature_scale': ENERGY_SCALE,
        'md_runs': runs,
        'reference_k': float(measured[reference]),
    }


def bragg_slope(runs: list, temperatures: list, symbols: list, settings: dict, main: dict) -> dict:
    """The ``bragg_peaks`` entry of an msd_slope: :func:`bragg_du2_slope` of the MSD ``runs`` with ``settings``
    (:data:`BRAGG_DEFAULTS`) and its ratio to the ``main`` slope (with the Bragg slope's relative error)."""
    (q_min, q_max), step = settings['pattern_q_range'], float(settings['q_step'])
    result = bragg_du2_slope(
        runs, temperatures, symbols, np.arange(float(q_min), float(q_max) + 0.5 * step, step),
        settings['q_range'], float(settings['prominence']), int(settings['max_peaks']), int(settings['n_blocks']),
        float(settings['reference_k']),
    )  # fmt: skip
    ratio = result[MSD_SLOPE_KEY] / main[MSD_SLOPE_KEY]
    return {
        **result,
        'settings': settings,
        'ratio_to_main': ratio,
        'ratio_to_main_stderr': abs(ratio) * result[MSD_SLOPE_STDERR_KEY] / abs(result[MSD_SLOPE_KEY]),
    }


@calcfunction
def analyze_pdf(parameters: orm.Dict, cold: orm.TrajectoryData, hot: orm.TrajectoryData) -> orm.ArrayData:
    """Electron-weighted G(r) of the NVE frames at two temperatures and dG = G_hot - G_cold (1/angstrom^2)."""
    p = parameters.get_dict()
    curves = {}
    for name, trajectory in (('cold', cold), ('hot', hot)):
        positions, _, _ = nve_frames(trajectory, float(p['nve_start_fs']))
        r, curves[name] = reduced_pdf(
            positions[spread_frames(len(positions), p.get('max_frames', 200))],
            [str(s) for s in trajectory.symbols],
            r_max=float(p.get('r_max', 10.0)),
            dr=float(p.get('dr', 0.02)),
        )
    node = orm.ArrayData()
    node.set_array('r_angstrom', r)
    node.set_array('g_cold', curves['cold'])
    node.set_array('g_hot', curves['hot'])
    node.set_array('delta_g', curves['hot'] - curves['cold'])
    node.base.attributes.set_many(
        {
            'temperatures_k': [p['temperature_cold_k'], p['temperature_hot_k']],
            'peaks_cold_angstrom': pdf_peaks(r, curves['cold']).tolist(),
            'units': {'r': 'angstrom', 'g': '1/angstrom^2'},
            'convention': 'G(r) = R(r)/r - 4 pi r rho0 gamma0(r), Z-weighted (large-Q electron scattering), '
            'sphere shape function; delta_g = G(hot) - G(cold)',
        }
    )
    return node
