"""``qdots.phonons``: LAMMPS normal modes, mode lifetimes, MSD(T) slope and G(r) of a nanocrystal, stage by stage."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, if_, while_

from aiida_qdots.calculations.lammps import get_lammps_builder
from aiida_qdots.calculations.lammps.force_fields import get_force_field_node
from aiida_qdots.calculations.lammps.inputs import HessianSettings, MDSettings, MinimizeSettings, validate_lammps_inputs
from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.output_keys import (
    BRAGG_WEIGHTING,
    MSD_SLOPE_KEY,
    MSD_SLOPE_STDERR_KEY,
    MSD_SLOPE_WEIGHTING_KEY,
)
from aiida_qdots.functions.diffraction import analyze_diffraction, validate_diffraction
from aiida_qdots.functions.phonons import (
    BRAGG_DEFAULTS,
    THERMO_PREFIX,
    analyze_lifetimes,
    analyze_msd,
    analyze_normal_modes,
    analyze_pdf,
    coarsest_dump,
    validate_bragg,
)
from aiida_qdots.protocols import ProtocolMixin, validated
from aiida_qdots.provisioning.codes import check_code_plugin
from aiida_qdots.workchains.labelled import LabelledOutputsMixin

STAGES = ('modes', 'lifetimes', 'msd', 'pdf')


def validate_parameters(value, _ctx=None):
    p = value.get_dict()
    unknown = set(p.get('stages', [])) - set(STAGES)
    if unknown or not p.get('stages'):
        return f'stages must be a non-empty subset of {", ".join(STAGES)}; got {p.get("stages")}'
    if 'lifetimes' in p['stages'] and 'modes' not in p['stages']:
        return 'the lifetimes stage projects on normal modes: add the modes stage'
    temperatures = [
        *p.get('msd', {}).get('temperatures', []),
        *p.get('pdf', {}).get('temperatures', []),
        p.get('lifetimes', {}).get('temperature', 300.0),
    ]
    if any(not isinstance(t, int | float) or t <= 0 for t in temperatures):
        return f'temperatures must be positive numbers (K), got {temperatures}'
    if 'msd' in p['stages'] and len(set(p['msd']['temperatures'])) < 2:
        return 'the msd stage needs at least 2 distinct temperatures'
    if 'pdf' in p['stages'] and len(p['pdf']['temperatures']) != 2:
        return 'the pdf stage takes exactly 2 temperatures (cold, hot)'
    q_range = p.get('msd', {}).get('weighting_q_range')
    if q_range is not None and (
        not isinstance(q_range, list) or len(q_range) != 2 or not 0 < float(q_range[0]) < float(q_range[1])
    ):
        return f'msd.weighting_q_range must be [q_min, q_max] with 0 < q_min < q_max (1/A) or null, got {q_range}'
    max_frames = p.get('msd', {}).get('max_frames')
    if max_frames is not None and (not isinstance(max_frames, int) or isinstance(max_frames, bool) or max_frames < 16):
        return (
            f'msd.max_frames must be an integer >= 16 (frames of each MSD run read) or null (all), got {max_frames!r}'
        )
    bragg = p.get('msd', {}).get('bragg')
    if bragg is not None and not isinstance(bragg, dict):
        return f'msd.bragg must be a dict of {", ".join(BRAGG_DEFAULTS)} or null, got {bragg!r}'
    if bragg is not None and (error := validate_bragg(bragg)):
        return f'msd.{error}'
    if 'pdf' in p['stages'] and (error := validate_diffraction(p['pdf'].get('diffraction', {}))):
        return f'pdf.{error}'
    branch = p.get('branch_from')
    if branch is not None and branch not in temperatures:
        return f'branch_from must be null or one of the MD temperatures {sorted(set(temperatures))} (K), got {branch!r}'
    if not isinstance(p.get('keep_raw_dumps', False), bool):
        return f'keep_raw_dumps must be true or false, got {p["keep_raw_dumps"]!r}'
    try:
        MDSettings(**{**p['md'], 'temperature': 300.0})
        hessian = p.get('hessian', {})
        method = hessian.get('method', 'auto')  # auto resolves to a valid method when the code is known
        HessianSettings(
            displacement=hessian.get('displacement', 0.005), method='finite_differences' if method == 'auto' else method
        )
    except (QdotsInputError, TypeError) as error:
        return f'invalid settings: {error}'


def hessian_method(method: str, code: orm.AbstractCode) -> str:
    """``auto``: ``dynamical_matrix`` when ``code`` was registered with the PHONON package (its ``lammps_packages``
    extras), else ``finite_differences``; any other value as given."""
    if method != 'auto':
        return method
    return 'dynamical_matrix' if 'PHONON' in code.base.extras.get('lammps_packages', []) else 'finite_differences'


def validate_inputs(inputs, ctx=None):
    if ctx is not None and 'structure' not in ctx:
        return None  # exposed without the structure (qdots.lattice_study): checked when the stage is launched
    try:
        validate_lammps_inputs(inputs['structure'], inputs['force_field'])
    except QdotsInputError as error:
        return str(error)


class PhononsWorkChain(LabelledOutputsMixin, ProtocolMixin, WorkChain):
    """Phonons of a nanocrystal with LAMMPS; each stage (modes, lifetimes, msd, pdf) can run alone.

    1. CG minimisation, then the Hessian by central finite differences of LAMMPS forces -> normal modes and DOS;
    2. MD (Langevin NVT, then NVE) at every temperature the stages need, one run at a time; only the NVE frames
       are dumped, with velocities only at the lifetimes temperature (the other runs feed positions-only analyses);
    3. calcfunctions: mode lifetimes (GLE friction kernel, Lorentzian linewidth), <u^2>(T) and d<u^2>/dT,
       G(r) at two temperatures and dG(r).
    """

    _protocol_file = 'phonons.yaml'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('structure', valid_type=orm.StructureData, help='Non-periodic nanocrystal (aiida-qdots build).')
        spec.input(
            'code',
            valid_type=orm.AbstractCode,
            validator=lambda v, _: check_code_plugin(v, 'lammps'),
            help='LAMMPS with the MANYBODY package.',
        )
        spec.input('force_field', valid_type=orm.SinglefileData, help='Force-field node (get_force_field_node).')
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            validator=validate_parameters,
            help='stages, minimize, hessian, md, lifetimes, msd, pdf settings, keep_raw_dumps (see phonons.yaml)',
        )
        spec.inputs.validator = validate_inputs
        spec.outline(
            cls.setup,
            cls.minimise,
            cls.inspect_minimisation,
            if_(cls.wants_modes)(cls.run_hessian, cls.analyze_modes),
            while_(cls.has_next_md)(cls.run_md, cls.inspect_md),
            if_(cls.wants_lifetimes)(cls.lifetimes_stage),
            if_(cls.wants_msd)(cls.msd_stage),
            if_(cls.wants_pdf)(cls.pdf_stage),
        )
        spec.output('relaxed_structure', valid_type=orm.StructureData)
        spec.output('hessian', valid_type=orm.ArrayData, required=False, help='eV/A^2, 3N x 3N')
        spec.output(
            'normal_modes',
            valid_type=orm.ArrayData,
            required=False,
            help='frequencies (THz, cm^-1), mass-weighted eigenvectors, rigid_mask',
        )
        spec.output('dos', valid_type=orm.ArrayData, required=False, help='phonon DOS (states/THz)')
        spec.output(
            'modes_summary',
            valid_type=orm.Dict,
            required=False,
            help='Hessian checks, rigid modes, imaginary modes, DOS integral',
        )
        spec.output('lifetimes', valid_type=orm.ArrayData, required=False, help='per-mode lifetimes (fs)')
        spec.output('lifetimes_summary', valid_type=orm.Dict, required=False)
        spec.output('msd', valid_type=orm.ArrayData, required=False, help='<u^2> (A^2) per element vs T (K)')
        spec.output(
            'msd_slope',
            valid_type=orm.Dict,
            required=False,
            help='d<u^2>/dT (A^2/K, 3D) with its error: the input of qdots.ued',
        )
        spec.output('pdf', valid_type=orm.ArrayData, required=False, help='G(r) at two temperatures and dG(r)')
        spec.output(
            'diffraction',
            valid_type=orm.ArrayData,
            required=False,
            help='electron diffraction I(Q), F(Q), G(r) over the measured Q range at the pdf temperatures, differences',
        )
        spec.exit_code(460, 'ERROR_MINIMISATION_FAILED', message='LAMMPS minimisation failed: {message}')
        spec.exit_code(461, 'ERROR_HESSIAN_FAILED', message='LAMMPS finite-difference Hessian failed: {message}')
        spec.exit_code(462, 'ERROR_MD_FAILED', message='LAMMPS MD at {temperature} K failed: {message}')
        spec.exit_code(463, 'ERROR_ANALYSIS_FAILED', message='analysis of stage {stage} failed: {error}')

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.AbstractCode,
        structure: orm.StructureData,
        protocol: str | None = None,
        overrides: dict | None = None,
    ):
        """A complete, validated builder for ``protocol`` with ``overrides`` merged into the parameters."""
        inputs = cls.get_protocol_inputs(protocol, overrides)
        builder = cls.get_builder()
        builder.code = code
        builder.structure = structure
        builder.force_field = get_force_field_node(inputs.pop('force_field'))
        builder.parameters = orm.Dict(inputs)
        return validated(builder)

    def setup(self):
        p = self.inputs.parameters.get_dict()
        self.ctx.p = p
        temperatures = set()
        if 'lifetimes' in p['stages']:
            temperatures.add(float(p['lifetimes']['temperature']))
        if 'msd' in p['stages']:
            temperatures.update(float(t) for t in p['msd']['temperatures'])
        if 'pdf' in p['stages']:
            temperatures.update(float(t) for t in p['pdf']['temperatures'])
        branch = p.get('branch_from')
        # the run every other one branches from goes first
        self.ctx.temperatures = sorted(temperatures, key=lambda t: (branch is None or t != float(branch), t))
        self.ctx.trajectories = {}
        self.ctx.thermo = {}
        self.report(
            f'{self.inputs.structure.get_formula()}: stages {", ".join(p["stages"])}; MD at '
            f'{", ".join(f"{t:g}" for t in self.ctx.temperatures) or "no"} K'
        )

    def _submit(self, settings, label: str, structure: orm.StructureData | None = None):
        p = self.ctx.p
        builder = get_lammps_builder(
            self.inputs.code,
            structure or self.ctx.get('relaxed', self.inputs.structure),
            self.inputs.force_field,
            settings,
            num_mpiprocs=p.get('num_mpiprocs'),
            max_wallclock_seconds=p.get('max_wallclock_seconds', 7200),
            label=label,
            keep_raw_dumps=p.get('keep_raw_dumps', False),
        )
        builder.metadata.call_link_label = label.replace(' ', '_')
        return self.submit(builder)

    def minimise(self):
        node = self._submit(MinimizeSettings(**self.ctx.p['minimize']), 'minimise')
        self.report(f'minimisation: qdots.lammps<{node.pk}>')
        return ToContext(minimisation=node)

    def inspect_minimisation(self):
        node = self.ctx.minimisation
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_MINIMISATION_FAILED.format(message=node.exit_message or node.exit_status)
        self.ctx.relaxed = node.outputs.structure
        self.out('relaxed_structure', self.ctx.relaxed)

    def wants_modes(self):
        return 'modes' in self.ctx.p['stages']

    def run_hessian(self):
        method = hessian_method(self.ctx.p['hessian'].get('method', 'auto'), self.inputs.code)
        node = self._submit(HessianSettings(self.ctx.p['hessian']['displacement'], method), 'hessian')
        self.report(
            f'Hessian by {method.replace("_", " ")} ({6 * len(self.ctx.relaxed.sites)} force evaluations): '
            f'qdots.lammps<{node.pk}>'
        )
        return ToContext(hessian=node)

    def analyze_modes(self):
        node = self.ctx.hessian
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_HESSIAN_FAILED.format(message=node.exit_message or node.exit_status)
        self.out('hessian', node.outputs.hessian)
        failure = self._run_analysis(
            'modes', analyze_normal_modes, node.outputs.hessian, self.ctx.relaxed, orm.Dict(self.ctx.p['hessian'])
        )
        if failure:
            return failure
        self.ctx.normal_modes = self.outputs['normal_modes']
        s = self.outputs['modes_summary']
        self.report(
            f'{s["n_vibrational_modes"]} modes up to {s["max_frequency_thz"]:.2f} THz; 6 rigid modes '
            f'<= {s["rigid_max_thz_unprojected"]:.3f} THz before projection; largest imaginary '
            f'{s["max_imaginary_thz"]:.3f} THz; Hessian asymmetry {s["asymmetry"]:.1e}'
        )

    def has_next_md(self):
        return len(self.ctx.trajectories) < len(self.ctx.temperatures)

    def run_md(self):
        temperature = self.ctx.temperatures[len(self.ctx.trajectories)]
        settings = MDSettings(**{**self.ctx.p['md'], **self._dump_settings(temperature), 'temperature': temperature})
        start = self.ctx.get('branch_structure')  # the final configuration of the branch_from run, when set
        node = self._submit(settings, f'md {temperature:g} K', start)
        origin = 'the branch run' if start else 'the relaxed structure'
        self.report(f'MD at {temperature:g} K from {origin}: qdots.lammps<{node.pk}>')
        self.ctx.md_temperature = temperature
        return ToContext(md=node)

    def _dump_settings(self, temperature: float) -> dict:
        """What the MD at ``temperature`` dumps: the NVE frames only; velocities only for the lifetimes; and, when
        every analysis reading the run reads at most some number of frames (G(r), diffraction, the MSD with its
        ``max_frames``), only the frames they read (:func:`coarsest_dump`)."""
        p = self.ctx.p
        md = p['md']
        lifetimes = 'lifetimes' in p['stages'] and temperature == float(p['lifetimes']['temperature'])
        limits = []
        if 'msd' in p['stages'] and temperature in {float(t) for t in p['msd']['temperatures']}:
            limits.append(p['msd'].get('max_frames'))
        if 'pdf' in p['stages'] and temperature in {float(t) for t in p['pdf']['temperatures']}:
            pdf = p['pdf']
            limits += [
                pdf.get('max_frames', 200),
                pdf.get('diffraction', {}).get('max_frames', pdf.get('max_frames', 200)),
            ]
        dump_every = int(md['dump_every'])
        if not lifetimes and limits and None not in limits and dump_every:
            nvt, nve = int(md['nvt_steps']), int(md['nve_steps'])
            if nvt % dump_every == 0 and nve % dump_every == 0:  # frames at nvt, nvt + dump_every, ..., nvt + nve
                coarse = dump_every * coarsest_dump(nve // dump_every + 1, limits)
                dump_every = coarse if nvt % coarse == 0 else dump_every  # LAMMPS dumps at multiples of dump_every
        return {'dump_from': md['nvt_steps'], 'dump_velocities': lifetimes, 'dump_every': dump_every}

    def inspect_md(self):
        node, temperature = self.ctx.md, self.ctx.md_temperature
        if not node.is_finished_ok or 'trajectory' not in node.outputs:
            return self.exit_codes.ERROR_MD_FAILED.format(
                temperature=temperature, message=node.exit_message or node.exit_status
            )
        self.ctx.trajectories[f'{temperature:g}'] = node.outputs.trajectory
        self.ctx.thermo[f'{temperature:g}'] = node.outputs.thermo
        if self.ctx.p.get('branch_from') is not None and temperature == float(self.ctx.p['branch_from']):
            self.ctx.branch_structure = node.outputs.structure

    def _nve_start_fs(self) -> float:
        md = self.ctx.p['md']
        return float(md['nvt_steps']) * float(md['timestep'])

    def wants_lifetimes(self):
        return 'lifetimes' in self.ctx.p['stages']

    def wants_msd(self):
        return 'msd' in self.ctx.p['stages']

    def wants_pdf(self):
        return 'pdf' in self.ctx.p['stages']

    def _run_analysis(self, stage: str, function, *args, **kwargs):
        """Call the calcfunction of ``stage``, attach its outputs; the exit code when it raises, else None."""
        try:
            results = function(*args, **kwargs)
        except ValueError as error:
            return self.exit_codes.ERROR_ANALYSIS_FAILED.format(stage=stage, error=error)
        for name, value in results.items() if isinstance(results, dict) else [(stage, results)]:
            self.out(name, value)
        return None

    def lifetimes_stage(self):
        temperature = float(self.ctx.p['lifetimes']['temperature'])
        parameters = {**self.ctx.p['lifetimes'], 'nve_start_fs': self._nve_start_fs(), 'temperature_k': temperature}
        failure = self._run_analysis(
            'lifetimes',
            analyze_lifetimes,
            self.ctx.trajectories[f'{temperature:g}'],
            self.ctx.normal_modes,
            orm.Dict(parameters),
        )
        if failure:
            return failure
        s = self.outputs['lifetimes_summary']
        self.report(
            f'lifetimes at {temperature:g} K: {s["n_resolved_gle"]} of {s["n_modes"]} modes resolved; median '
            f'{s["median_tau_gle_fs"]} fs (GLE), {s["median_tau_lorentzian_fs"]} fs (Lorentzian)'
        )

    def msd_stage(self):
        keys = {f'T_{float(t):g}'.replace('.', 'p'): f'{float(t):g}' for t in self.ctx.p['msd']['temperatures']}
        parameters = orm.Dict(
            {
                'nve_start_fs': self._nve_start_fs(),
                'temperatures': {k: float(v) for k, v in keys.items()},
                'weighting_q_range': self.ctx.p['msd'].get('weighting_q_range'),
                'max_frames': self.ctx.p['msd'].get('max_frames'),
                'bragg': self.ctx.p['msd'].get('bragg'),
            }
        )
        runs = {k: self.ctx.trajectories[v] for k, v in keys.items()}
        runs.update({f'{THERMO_PREFIX}{k}': self.ctx.thermo[v] for k, v in keys.items()})  # measured temperatures
        failure = self._run_analysis('msd', analyze_msd, parameters, **runs)
        if failure:
            return failure
        slope = self.outputs['msd_slope']
        self.report(
            f'd<u^2>/dT = {slope[MSD_SLOPE_KEY]:.3e} +- {slope[MSD_SLOPE_STDERR_KEY]:.1e} A^2/K '
            f'({slope[MSD_SLOPE_WEIGHTING_KEY]} weighting)'
        )
        if BRAGG_WEIGHTING in slope.keys():
            bragg = slope[BRAGG_WEIGHTING]
            self.report(
                f'Bragg-peak route: d(du2)/dT = {bragg[MSD_SLOPE_KEY]:.3e} +- {bragg[MSD_SLOPE_STDERR_KEY]:.1e} A^2/K '
                f'({bragg["ratio_to_main"]:.3f} of the main slope; {bragg["n_peaks"]} peaks, '
                f'{bragg["n_blocks"]} blocks of {bragg["n_frames"]} frames)'
            )

    def pdf_stage(self):
        cold, hot = (float(t) for t in self.ctx.p['pdf']['temperatures'])
        settings = {k: v for k, v in self.ctx.p['pdf'].items() if k != 'diffraction'}
        common = {'nve_start_fs': self._nve_start_fs(), 'temperature_cold_k': cold, 'temperature_hot_k': hot}
        trajectories = {'cold': self.ctx.trajectories[f'{cold:g}'], 'hot': self.ctx.trajectories[f'{hot:g}']}
        failure = self._run_analysis('pdf', analyze_pdf, orm.Dict({**settings, **common}), **trajectories)
        diffraction = {'max_frames': settings.get('max_frames', 200), **self.ctx.p['pdf'].get('diffraction', {})}
        failure = failure or self._run_analysis(
            'diffraction', analyze_diffraction, orm.Dict({**diffraction, **common}), **trajectories
        )
        if failure:
            return failure
        peaks = self.outputs['pdf'].base.attributes.get('peaks_cold_angstrom')[:4]
        self.report(f'G(r) at {cold:g} K peaks at {", ".join(f"{x:.2f}" for x in peaks)} A; dG(r) for {hot - cold:g} K')
        measured = self.outputs['diffraction'].base.attributes
        self.report(
            f'electron diffraction over Q = {measured.get("q_range_inv_angstrom")} 1/A ({measured.get("window")} '
            f'window): G(r) peaks at {", ".join(f"{x:.2f}" for x in measured.get("peaks_cold_angstrom")[:4])} A'
        )
