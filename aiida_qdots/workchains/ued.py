"""``qdots.ued``: UED data -> Debye-Waller fits -> lattice temperature -> Auger / trapping kinetic-model fit."""

from __future__ import annotations

from aiida import orm
from aiida.engine import WorkChain, if_

from aiida_qdots.common.output_keys import MSD_SLOPE_KEY, MSD_SLOPE_STDERR_KEY, MSD_SLOPE_WEIGHTING_KEY
from aiida_qdots.common.validation import (
    PATTERN_ARRAYS,
    UED_ARRAYS,
    RuleViolation,
    check_pattern_arrays,
    check_ued_arrays,
)
from aiida_qdots.data.ued_patterns import is_pattern_node
from aiida_qdots.functions.dg_temperature import dg_lattice_temperature
from aiida_qdots.functions.diffraction import analyze_diffraction, stored_block_error
from aiida_qdots.functions.ued import (
    HEATING_SCALE,
    debye_waller_analysis,
    fit_heating,
    lattice_temperature_from_dw,
    pump_problem,
    validate_model,
    validate_msd_slope,
    validate_parameters,
)
from aiida_qdots.functions.ued_patterns import (
    dg_kinetics,
    md_states,
    pattern_difference_pdf,
    pattern_peak_table,
    validate_patterns_settings,
)
from aiida_qdots.protocols import ProtocolMixin, validated
from aiida_qdots.workchains.labelled import LabelledOutputsMixin


def fit_summary(fit: orm.Dict) -> str:
    """One line of a ``fit_heating`` result: each free parameter with its CI, and chi2/dof."""
    values = ', '.join(
        f'{k} {v:.3g} [{", ".join("inf" if x is None else f"{x:.3g}" for x in fit["ci"][k])}]'
        for k, v in fit['values'].items()
    )
    return f'{values} ({fit["confidence"]:.0%} CI, sigma uncertainty included); chi2/dof {fit["chi2_reduced"]:.2f}'


def data_source(data: orm.ArrayData) -> str:
    """How messages name a UED data node: its PK and the file it was imported from."""
    file = (data.base.attributes.get('source', None) or {}).get('file')
    return f'UED data node {data.pk}' + (f' ({file})' if file else '')


def validate_data(value, _ctx=None):
    if is_pattern_node(value):
        try:
            check_pattern_arrays(data_source(value), *(value.get_array(name) for name in PATTERN_ARRAYS))
        except (RuleViolation, KeyError) as error:
            return str(error)
        return None
    missing = [name for name in UED_ARRAYS if name not in value.get_arraynames()]
    if missing or not value.base.attributes.get('sets', None):
        return f'data must be a UED node (aiida-qdots import ued): missing {", ".join(missing) or "sets attribute"}'
    try:
        check_ued_arrays(data_source(value), *(value.get_array(name) for name in UED_ARRAYS))
    except RuleViolation as error:
        return str(error)


def validate_pumps(data: orm.ArrayData, model: orm.Dict) -> str | None:
    """Every pump set of ``data`` can be fitted with ``model``: its wavelength has a cross-section (rule ``model``)."""
    return pump_problem(model.get_dict(), data.base.attributes.get('sets'), data_source(data))


MD_DIFFRACTION_ARRAYS = (
    'q_inv_angstrom', 'r_angstrom', 'intensity_cold', 'intensity_hot', 'reduced_cold', 'reduced_hot', 'delta_reduced',
    'delta_g',
)  # fmt: skip
"""The arrays of an ``md_diffraction`` node that the dG route reads (those of ``analyze_diffraction``'s output)."""


def validate_md_diffraction(node, _ctx=None):
    """One line naming the arrays the dG route needs that ``node`` lacks, else None."""
    missing = [name for name in MD_DIFFRACTION_ARRAYS if name not in node.get_arraynames()]
    if missing:
        return (
            f'md_diffraction lacks the array(s) {", ".join(missing)}: give the diffraction output of '
            'qdots.phonons (analyze_diffraction)'
        )
    return None


def validate_inputs(inputs, _ctx=None):
    if 'data' in inputs and 'model' in inputs:  # exposed without its data by qdots.lattice_study
        return validate_pumps(inputs['data'], inputs['model'])
    return None


class UedWorkChain(LabelledOutputsMixin, ProtocolMixin, WorkChain):
    """Lattice heating from ultrafast electron diffraction, fitted by the Auger-heating / hot-hole-trapping model.

    ``data`` is a peak table I(t)/I0 or patterns I(Q, t); patterns first become the peak table
    (``pattern_peak_table``), and after the steps below they also take the dG route: ``pattern_difference_pdf``
    (dG(r, t)) and ``dg_kinetics`` (losses at the seed's distances, their ratio, exponential fits of those and of
    dT(t), the distortion per trapped hole when ``md_diffraction`` is given). With ``md_diffraction`` the dG route
    also reads dT(t) from dG(r, t) against the MD heating response (``dg_lattice_temperature``) and fits the same
    kinetic model to it (outputs ``dg_route``): both routes' time constants from one pattern node.

    1. ``debye_waller_analysis``: per delay, du2 from -ln(I/I0) = Q^2 du2 / 3 and the Q^4 linearity test;
    2. ``lattice_temperature_from_dw``: dT(t) = du2 / (d<u^2>/dT), the slope from ``qdots.phonons``
       (its ``msd_slope`` output, linked: the ``slope_weighting`` entry, by default the slope of the du2 the
       Bragg-peak route reads, else the main one) or given by the user;
    3. ``fit_heating``: tau_AR and tau_trap shared by all sets, <N> fixed by the cross-sections, with confidence
       intervals that carry the cross-sections' uncertainty.
    """

    _protocol_file = 'ued.yaml'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'data',
            valid_type=orm.ArrayData,
            validator=validate_data,
            help='UED intensities from `aiida-qdots import ued` (measured or the synthetic demo)',
        )
        spec.input(
            'msd_slope',
            valid_type=orm.Dict,
            validator=validate_msd_slope,
            help=f'{MSD_SLOPE_KEY}, {MSD_SLOPE_STDERR_KEY}: 3D d<u^2>/dT (qdots.phonons output or user value)',
        )
        spec.input(
            'model',
            valid_type=orm.Dict,
            validator=validate_model,
            help='KineticModel parameters (fixed values, fit starting values), by_wavelength_nm, sigma_rel_err, free',
        )
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            validator=validate_parameters,
            help='alpha (linearity test), n_trajectories (SSA check), slope_weighting (the msd_slope entry dT divides '
            "by: 'bragg_peaks' by default, the main slope when the msd_slope has no such entry)",
        )
        spec.input(
            'patterns',
            valid_type=orm.Dict,
            validator=lambda value, _ctx=None: validate_patterns_settings(value.get_dict()),
            help='settings of the pattern routes (functions.ued_patterns.PATTERN_DEFAULTS); used when data are I(Q, t)',
        )
        spec.input(
            'md_diffraction',
            valid_type=orm.ArrayData,
            required=False,
            validator=validate_md_diffraction,
            help='MD dG(r, dT) (qdots.phonons diffraction output): the thermal reference of the distortion estimate',
        )
        spec.inputs.validator = validate_inputs
        spec.outline(
            if_(cls.has_patterns)(cls.integrate_peaks),
            cls.debye_waller,
            cls.temperature,
            cls.fit,
            if_(cls.has_patterns)(cls.difference_pdf, cls.dg_analysis, if_(cls.has_md_diffraction)(cls.dg_route)),
        )
        spec.output('peak_table', valid_type=orm.ArrayData, required=False, help='I(t)/I0 integrated from I(Q, t)')
        spec.output('delta_pdf', valid_type=orm.ArrayData, required=False, help='dF(Q, t) and dG(r, t) with errors')
        spec.output('dg_series', valid_type=orm.ArrayData, required=False, help='dG at the distances, ratio vs delay')
        spec.output('dg_fits', valid_type=orm.Dict, required=False, help='exponential fits (95 % CI), distortion')
        spec.output('debye_waller', valid_type=orm.ArrayData, help='du2 (A^2) per set and delay, linearity test')
        spec.output('lattice_temperature', valid_type=orm.ArrayData, help='dT (K) per set and delay with errors')
        spec.output(
            'fit', valid_type=orm.Dict, help='tau_AR / tau_trap (ps) with CIs, chi2; per set <N>, plateau, model'
        )
        spec.output('fit_curves', valid_type=orm.ArrayData, help='model dT(t) (K) of each set on a fine grid')
        spec.output_namespace('dg_route', required=False, help='the kinetic fit of dT(t) read from dG(r, t)')
        spec.output(
            'dg_route.lattice_temperature',
            valid_type=orm.ArrayData,
            required=False,
            help='dT (K) per set and delay: dG(r, t) against the MD heating response, with errors',
        )
        spec.output('dg_route.kinetic_fit', valid_type=orm.Dict, required=False, help='the fit of that dT(t), as `fit`')
        spec.output('dg_route.kinetic_fit_curves', valid_type=orm.ArrayData, required=False, help='its model dT(t) (K)')
        spec.exit_code(450, 'ERROR_DEBYE_WALLER', message='Debye-Waller analysis failed: {error}')
        spec.exit_code(451, 'ERROR_FIT_FAILED', message='kinetic-model fit failed: {error}')
        spec.exit_code(452, 'ERROR_DG_ROUTE_FAILED', message='dG route (dT from dG(r, t) and its fit) failed: {error}')
        spec.exit_code(
            453, 'ERROR_LATTICE_TEMPERATURE', message='dT cannot be read from du2 with this d<u^2>/dT: {error}'
        )

    @classmethod
    def get_builder_from_protocol(
        cls, data: orm.ArrayData, msd_slope: orm.Dict, protocol: str | None = None, overrides: dict | None = None
    ):
        """A complete, validated builder for ``protocol`` with ``overrides`` merged into its ``model`` /
        ``parameters``."""
        builder = cls.get_protocol_builder(protocol, overrides)
        builder.data = data
        builder.msd_slope = msd_slope
        return validated(builder)

    @classmethod
    def get_protocol_builder(cls, protocol: str | None = None, overrides: dict | None = None):
        """:meth:`get_builder_from_protocol` without the data and the d<u^2>/dT (plugged in by qdots.lattice_study)."""
        inputs = cls.get_protocol_inputs(protocol, overrides)
        builder = cls.get_builder()
        builder.model = orm.Dict(inputs['model'])
        builder.parameters = orm.Dict(inputs['parameters'])
        builder.patterns = orm.Dict(inputs['patterns'])
        return builder

    def has_patterns(self):
        return is_pattern_node(self.inputs.data)

    def integrate_peaks(self):
        try:
            self.ctx.table = pattern_peak_table(self.inputs.data, self.inputs.patterns)
        except ValueError as error:
            return self.exit_codes.ERROR_DEBYE_WALLER.format(error=error)
        self.out('peak_table', self.ctx.table)
        check = (self.inputs.data.base.attributes.get('synthetic') or {}).get('peak_route_check') or {}
        if check.get('verdict') == 'biased':
            self.report(
                f'WARNING: on these synthetic patterns the peak route reads dT x {1 + check["bias"]:.3f}: the Bragg '
                f"slope of the generator's two MD states over the route's {check.get('slope_weighting', 'main')} "
                f'slope, beyond 1.96 x their combined relative error {check["tolerance"]:.1%}: the Debye-Waller route '
                'will not recover the generating constants '
                '(attribute synthetic.peak_route_check of the data)'
            )

    def debye_waller(self):
        table = self.ctx.table if self.has_patterns() else self.inputs.data
        sets = table.base.attributes.get('sets')
        self.report(
            f'{len(sets)} pump set(s), {len(table.get_array("delay_ps"))} delays, '
            f'{len(table.get_array("q_inv_angstrom"))} peaks'
        )
        try:
            self.ctx.dw = debye_waller_analysis(table, self.inputs.parameters)
        except ValueError as error:
            return self.exit_codes.ERROR_DEBYE_WALLER.format(error=error)
        self.out('debye_waller', self.ctx.dw)
        flagged = self.ctx.dw.base.attributes.get('flagged_delays_ps')
        for pump, delays in zip(sets, flagged, strict=True):
            if delays:
                self.report(
                    f'{pump["wavelength_nm"]:g} nm: Q^4 deviation (localized disorder) at {len(delays)} '
                    f'delay(s), first {delays[0]:g} ps'
                )

    def temperature(self):
        try:
            self.ctx.temperature = lattice_temperature_from_dw(
                self.ctx.dw, self.inputs.msd_slope, self.inputs.parameters
            )
        except ValueError as error:  # e.g. a Bragg-peak slope of MD runs that did not heat: not positive
            return self.exit_codes.ERROR_LATTICE_TEMPERATURE.format(error=error)
        self.out('lattice_temperature', self.ctx.temperature)
        used = self.ctx.temperature.base.attributes
        self.report(
            f'dT = du2 / {used.get(MSD_SLOPE_KEY):.3e} A^2/K ({used.get(MSD_SLOPE_WEIGHTING_KEY)} slope; '
            f'{used.get("slope_weighting_requested")} requested)'
        )

    def fit(self):
        try:
            results = fit_heating(self.ctx.temperature, self.inputs.model, self.inputs.parameters)
        except ValueError as error:
            return self.exit_codes.ERROR_FIT_FAILED.format(error=error)
        self.ctx.fit = results['fit']
        self.out('fit', results['fit'])
        self.out('fit_curves', results['fit_curves'])
        fit = results['fit']
        self.report(f'all sets: {fit_summary(fit)}')
        check = (self.inputs.data.base.attributes.get('synthetic') or {}).get('peak_route_check') or {}
        if HEATING_SCALE in fit['free'] and 'bias' in check:
            self.report(
                f"heating_scale {fit[HEATING_SCALE]:.3f} against the synthetic patterns' generator / route slope "
                f'{1 + check["bias"]:.3f} +- {(1 + check["bias"]) * check["tolerance"]:.3f} (peak_route_check)'
            )
        for entry in fit['sets']:
            self.report(
                f'{entry["wavelength_nm"]:g} nm, {entry["fluence_mj_cm2"]:.3g} mJ/cm^2: '
                f'<N> {entry["mean_initial_pairs"]:.1f}, '
                f'hot holes trap: {entry["hot_holes_trap"]}, plateau {entry["plateau_k"]:.1f} K'
            )
        if not fit['success']:
            return self.exit_codes.ERROR_FIT_FAILED.format(error=f'least squares did not converge: {fit["message"]}')

    def difference_pdf(self):
        self.ctx.delta_pdf = pattern_difference_pdf(self.inputs.data, self.inputs.patterns)
        self.out('delta_pdf', self.ctx.delta_pdf)

    def dg_analysis(self):
        extra = {'md_diffraction': self.inputs.md_diffraction} if 'md_diffraction' in self.inputs else {}
        results = dg_kinetics(
            self.ctx.delta_pdf,
            self.inputs.patterns,
            lattice_temperature=self.ctx.temperature,
            fit=self.ctx.fit,
            **extra,
        )
        self.out('dg_series', results['dg_series'])
        self.out('dg_fits', results['dg_fits'])
        for entry in results['dg_fits']['sets']:
            taus = ', '.join(
                f'{name} {fit["tau"]:.3g} ps, CI {fit["tau_ci"]}' for name, fit in entry['fits'].items() if 'tau' in fit
            )
            self.report(f'{entry["wavelength_nm"]:g} nm dG route: {taus}')

    def has_md_diffraction(self):
        return 'md_diffraction' in self.inputs

    def dg_route(self):
        md = self.inputs.md_diffraction
        sources = {}
        if md.creator is not None and md.creator.process_label == analyze_diffraction.__name__:
            states, _ = md_states(md)
            sources = {**states, 'md_error': stored_block_error(md)}
        try:
            temperature = dg_lattice_temperature(self.ctx.delta_pdf, md, self.inputs.patterns, **sources)
            results = fit_heating(temperature, self.inputs.model, self.inputs.parameters)
        except ValueError as error:
            return self.exit_codes.ERROR_DG_ROUTE_FAILED.format(error=error)
        self.out('dg_route.lattice_temperature', temperature)
        self.out('dg_route.kinetic_fit', results['fit'])
        self.out('dg_route.kinetic_fit_curves', results['fit_curves'])
        attributes = temperature.base.attributes
        self.report(
            f'dG route: dT(t) from dG over r = {"-".join(f"{x:g}" for x in attributes.get("r_range_angstrom"))} A '
            f'against the MD heating response (T {attributes.get("md_temperatures_k")}, scale error '
            f'{attributes.get("scale_rel_err"):.1%}); all sets: {fit_summary(results["fit"])}'
        )
        if not results['fit']['success']:
            return self.exit_codes.ERROR_DG_ROUTE_FAILED.format(error=results['fit']['message'])
