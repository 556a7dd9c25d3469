"""``qdots.vibrations``: normal modes, off-resonant Raman and IR spectra of a relaxed cluster with CP2K."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain, if_

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.functions.vibrations import RETRIEVE, analyze_vibrations
from aiida_qdots.protocols import METHOD_OVERRIDES, ProtocolMixin, cp2k_method, recursive_merge, validated
from aiida_qdots.workchains.cluster_energy import ClusterEnergyWorkChain, validate_inputs
from aiida_qdots.workchains.cp2k_runs import RESTART_HANDLER, Cp2kBaseWorkChain
from aiida_qdots.workchains.labelled import LabelledOutputsMixin

ANALYSIS_KEYS = (
    'hwhm_cm1',
    'minimum_cm1',
    'core_threshold',
    'nearest_modes',
    'animation_amplitude',
    'max_imaginary_cm1',
    'spectrum_max_cm1',
)


def validate_analysis(value, _ctx=None):
    analysis = value.get_dict()
    missing = sorted(set(ANALYSIS_KEYS) - set(analysis))
    if missing:
        return f'analysis lacks {", ".join(missing)}'
    for key in ('hwhm_cm1', 'animation_amplitude', 'spectrum_max_cm1'):
        if analysis[key] <= 0:
            return f'analysis.{key} must be positive, got {analysis[key]}'
    if not 0 < analysis['core_threshold'] < 1:
        return f'analysis.core_threshold must lie in (0, 1), got {analysis["core_threshold"]}'


class VibrationsWorkChain(LabelledOutputsMixin, ProtocolMixin, WorkChain):
    """Relaxed cluster -> CP2K ``VIBRATIONAL_ANALYSIS`` (Hessian from central differences of forces, the static
    polarizability by linear response and the dipole at every displacement, one replica) -> frequencies and normal
    modes with the rigid modes projected out, Raman activities and depolarization ratios, IR intensities, broadened
    spectra, element participation and assignments, the main optical Raman peak and its modes as animations.

    With the optional ``relax`` namespace (``qdots.cluster_energy`` with GEO_OPT) the structure is relaxed first.
    """

    _protocol_file = 'vibrations.yaml'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(Cp2kBaseWorkChain, namespace='cp2k', exclude=('cp2k.structure',))
        spec.expose_inputs(
            ClusterEnergyWorkChain,
            namespace='relax',
            exclude=('structure',),
            namespace_options={'required': False, 'populate_defaults': False, 'help': 'Relax the structure first.'},
        )
        spec.input('structure', valid_type=orm.StructureData, help='The cluster (non-periodic, in a vacuum box).')
        spec.input('analysis', valid_type=orm.Dict, validator=validate_analysis, help='See vibrations.yaml.')
        spec.inputs.validator = validate_inputs
        spec.outline(
            if_(cls.should_relax)(cls.run_relax, cls.inspect_relax),
            cls.run_vibrations,
            cls.inspect_vibrations,
            cls.analyze,
        )
        spec.output('structure', valid_type=orm.StructureData, required=False, help='The relaxed structure.')
        spec.output('modes', valid_type=orm.ArrayData, help='Wavenumbers (cm^-1), eigenvectors, Raman, IR, character.')
        spec.output('spectrum', valid_type=orm.ArrayData, help='Gaussian-broadened Raman and IR spectra on a grid.')
        spec.output('summary', valid_type=orm.Dict, help='Main optical Raman peak, its modes, imaginary modes, checks.')
        spec.output('molden', valid_type=orm.SinglefileData, help='All modes in Molden [FREQ] format.')
        spec.output(
            'animation', valid_type=orm.SinglefileData, required=False, help='Mode nearest the main peak (extxyz).'
        )
        spec.exit_code(440, 'ERROR_RELAXATION_FAILED', message='the relaxation failed with exit status {exit_status}')
        spec.exit_code(
            441, 'ERROR_SUB_PROCESS_FAILED_CP2K', message='the vibrational analysis failed: exit status {exit_status}'
        )
        spec.exit_code(442, 'ERROR_ANALYSIS_FAILED', message='the CP2K output could not be analysed: {error}')
        spec.exit_code(
            443,
            'ERROR_IMAGINARY_MODES',
            message='{count} imaginary mode(s) beyond {limit} cm^-1 (lowest {lowest:.1f} cm^-1): not a minimum',
        )

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.Code,
        structure: orm.StructureData,
        protocol: str | None = None,
        overrides: dict | None = None,
        relax: bool = False,
    ):
        """A complete, validated builder with the ``fast`` (GFN1-xTB), ``moderate`` or ``precise`` (PBE-D3) method.

        ``overrides`` merge into the protocol (``vibrational_analysis``, ``analysis``, ``options``,
        ``max_iterations``, ``clean_workdir``); ``parameters`` and ``kinds`` into the CP2K method (cp2k_method.yaml).
        ``relax``: relax with ``qdots.cluster_energy`` of the same protocol first, to the protocol's tighter
        ``relax_geo_opt`` thresholds.
        """
        builder = cls.get_builder_for_elements(code, structure.get_kind_names(), protocol, overrides, relax)
        builder.structure = structure
        builder.metadata.description = (
            f'{structure.get_formula()} vibrations ({protocol or cls.get_default_protocol()})'
        )
        return validated(builder)

    @classmethod
    def get_builder_for_elements(
        cls,
        code: orm.Code,
        elements: list[str],
        protocol: str | None = None,
        overrides: dict | None = None,
        relax: bool = False,
    ):
        """:meth:`get_builder_from_protocol` without the structure (for a stage that plugs it in at run time)."""
        overrides = dict(overrides or {})
        method_overrides = {key: overrides.pop(key) for key in METHOD_OVERRIDES if key in overrides}
        method = cp2k_method(elements, protocol, method_overrides)
        inputs = cls.get_protocol_inputs(protocol, overrides)
        builder = cls.get_builder()
        cp2k = builder.cp2k
        cp2k.cp2k.code = code
        cp2k.cp2k.parameters = orm.Dict(recursive_merge(method, inputs['vibrational_analysis']))
        cp2k.cp2k.metadata.options = inputs['options']
        cp2k.cp2k.settings = orm.Dict({'additional_retrieve_list': RETRIEVE})
        cp2k.max_iterations = orm.Int(inputs['max_iterations'])
        cp2k.clean_workdir = orm.Bool(inputs['clean_workdir'])
        cp2k.handler_overrides = orm.Dict(RESTART_HANDLER)
        problem = validate_analysis(orm.Dict(inputs['analysis']))
        if problem:
            raise QdotsInputError(problem)
        builder.analysis = orm.Dict(inputs['analysis'])
        if relax:
            relaxation = ClusterEnergyWorkChain.get_builder_for_elements(
                code, elements, protocol, {**method_overrides, 'geo_opt': inputs['relax_geo_opt']}, relax=True
            )
            builder.relax = relaxation._inputs(prune=True)
        return builder

    def should_relax(self):
        return 'relax' in self.inputs and bool(self.inputs.relax)

    def run_relax(self):
        inputs = self.exposed_inputs(ClusterEnergyWorkChain, namespace='relax')
        inputs['structure'] = self.inputs.structure
        inputs.setdefault('metadata', {})['call_link_label'] = 'relax'
        node = self.submit(ClusterEnergyWorkChain, **inputs)
        self.report(f'launched qdots.cluster_energy<{node.pk}>: relaxation of {self.inputs.structure.get_formula()}')
        return ToContext(relax=node)

    def inspect_relax(self):
        node = self.ctx.relax
        if not node.is_finished_ok or 'structure' not in node.outputs:
            return self.exit_codes.ERROR_RELAXATION_FAILED.format(exit_status=node.exit_status)
        self.out('structure', node.outputs.structure)

    def _structure(self) -> orm.StructureData:
        return self.ctx.relax.outputs.structure if 'relax' in self.ctx else self.inputs.structure

    def run_vibrations(self):
        inputs = self.exposed_inputs(Cp2kBaseWorkChain, namespace='cp2k')
        inputs['cp2k']['structure'] = self._structure()
        inputs.setdefault('metadata', {})['call_link_label'] = 'vibrational_analysis'
        node = self.submit(Cp2kBaseWorkChain, **inputs)
        self.report(f'launched cp2k.base<{node.pk}>: vibrational analysis of {self._structure().get_formula()}')
        return ToContext(vibrations=node)

    def inspect_vibrations(self):
        node = self.ctx.vibrations
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_CP2K.format(exit_status=node.exit_status)

    def analyze(self):
        dx = self.inputs.cp2k.cp2k.parameters['VIBRATIONAL_ANALYSIS']['DX']
        parameters = orm.Dict({**self.inputs.analysis.get_dict(), 'dx_bohr': dx})
        try:
            outputs = analyze_vibrations(self.ctx.vibrations.outputs.retrieved, self._structure(), parameters)
        except (ValueError, KeyError) as exc:
            return self.exit_codes.ERROR_ANALYSIS_FAILED.format(error=str(exc))
        self.out_many(outputs)
        summary = outputs['summary'].get_dict()
        peak = summary.get('raman_peak_cm1')
        found = f'main optical Raman peak {peak:.1f} cm^-1' if peak else 'no optical mode mostly on the Cd/Se core'
        self.report(f'{summary["n_modes"]} modes; {found}')
        if summary['n_imaginary']:
            return self.exit_codes.ERROR_IMAGINARY_MODES.format(
                count=summary['n_imaginary'], limit=summary['max_imaginary_cm1'], lowest=summary['lowest_cm1']
            )
