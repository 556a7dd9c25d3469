"""``qdots.cluster_energy``: CP2K single point or relaxation of a finite cluster."""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain

from aiida_qdots.functions.energies import total_energy_ev
from aiida_qdots.protocols import METHOD_OVERRIDES, ProtocolMixin, cp2k_method, recursive_merge, validated
from aiida_qdots.provisioning.codes import check_code_plugin
from aiida_qdots.workchains.cp2k_runs import RESTART_HANDLER, Cp2kBaseWorkChain
from aiida_qdots.workchains.labelled import LabelledOutputsMixin


def cp2k_parameters(method: dict, geo_opt: dict, relax: bool) -> dict:
    """The CP2K input ``method`` with RUN_TYPE ENERGY, or GEO_OPT and the optimiser settings ``geo_opt``."""
    parameters = recursive_merge(method, geo_opt) if relax else method
    return recursive_merge(parameters, {'GLOBAL': {'RUN_TYPE': 'GEO_OPT' if relax else 'ENERGY'}})


def validate_inputs(inputs, _ctx=None):
    """The CP2K code must be registered for the ``cp2k`` plugin (a LAMMPS code would fail only when run)."""
    if 'cp2k' in inputs and 'code' in inputs['cp2k'].get('cp2k', {}):
        return check_code_plugin(inputs['cp2k']['cp2k']['code'], 'cp2k')


class ClusterEnergyWorkChain(LabelledOutputsMixin, ProtocolMixin, WorkChain):
    """Total energy (eV) of a non-periodic cluster with CP2K, optionally after a geometry optimisation.

    Runs one ``cp2k.base`` work chain with its restart handler enabled, so an SCF failure, a walltime
    kill or an optimisation that hits ``MAX_ITER`` is continued from CP2K's restart files.
    """

    _protocol_file = 'cluster_energy.yaml'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.expose_inputs(Cp2kBaseWorkChain, namespace='cp2k', exclude=('cp2k.structure',))
        spec.input('structure', valid_type=orm.StructureData, help='The cluster (non-periodic, in a vacuum box).')
        spec.input(
            'relax',
            valid_type=orm.Bool,
            default=lambda: orm.Bool(False),
            help='Optimise the geometry (GEO_OPT) before taking the energy.',
        )
        spec.inputs.validator = validate_inputs
        spec.outline(cls.run_cp2k, cls.inspect_cp2k)
        spec.output('energy', valid_type=orm.Float, help='Final total energy in eV.')
        spec.output(
            'structure',
            valid_type=orm.StructureData,
            required=False,
            help='The relaxed structure (when relax is True).',
        )
        spec.output('output_parameters', valid_type=orm.Dict, help="CP2K's parsed output (energy in hartree).")
        spec.exit_code(
            401,
            'ERROR_SUB_PROCESS_FAILED_CP2K',
            message='the cp2k.base work chain failed with exit status {exit_status}',
        )
        spec.exit_code(402, 'ERROR_NO_ENERGY', message='CP2K finished but reported no total energy')
        spec.exit_code(
            403, 'ERROR_NO_RELAXED_STRUCTURE', message='the geometry optimisation finished without an output structure'
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
        """A complete, validated builder with the ``fast`` (GFN1-xTB), ``moderate`` or ``precise`` (PBE-D3) settings.

        ``overrides`` is merged into the protocol's inputs (keys ``geo_opt``, ``options``, ``max_iterations``,
        ``clean_workdir``) and the CP2K method (keys ``parameters``, ``kinds``: cp2k_method.yaml).
        """
        builder = cls.get_builder_for_elements(code, structure.get_kind_names(), protocol, overrides, relax)
        builder.structure = structure
        kind = 'relaxation' if relax else 'single point'
        builder.metadata.description = f'{structure.get_formula()} {kind} ({protocol or cls.get_default_protocol()})'
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
        """:meth:`get_builder_from_protocol` without the structure, for a cluster of ``elements`` (CP2K kinds):
        the inputs of a workchain that plugs in the structure once it exists."""
        overrides = dict(overrides or {})
        method = cp2k_method(
            elements, protocol, {key: overrides.pop(key) for key in METHOD_OVERRIDES if key in overrides}
        )
        inputs = cls.get_protocol_inputs(protocol, overrides)
        builder = cls.get_builder()
        builder.relax = orm.Bool(relax)
        builder.cp2k.cp2k.code = code
        builder.cp2k.cp2k.parameters = orm.Dict(cp2k_parameters(method, inputs['geo_opt'], relax))
        builder.cp2k.cp2k.metadata.options = inputs['options']
        builder.cp2k.max_iterations = orm.Int(inputs['max_iterations'])
        builder.cp2k.clean_workdir = orm.Bool(inputs['clean_workdir'])
        builder.cp2k.handler_overrides = orm.Dict(RESTART_HANDLER)
        return builder

    def run_cp2k(self):
        inputs = self.exposed_inputs(Cp2kBaseWorkChain, namespace='cp2k')
        inputs['cp2k']['structure'] = self.inputs.structure
        inputs.setdefault('metadata', {})['call_link_label'] = 'cp2k'
        kind = 'relaxation' if self.inputs.relax.value else 'single point'
        node = self.submit(Cp2kBaseWorkChain, **inputs)
        self.report(f'launched cp2k.base<{node.pk}>: {kind} of {self.inputs.structure.get_formula()}')
        return ToContext(cp2k=node)

    def inspect_cp2k(self):
        node = self.ctx.cp2k
        if not node.is_finished_ok:
            self.report(f'cp2k.base<{node.pk}> failed with exit status {node.exit_status}: {node.exit_message}')
            return self.exit_codes.ERROR_SUB_PROCESS_FAILED_CP2K.format(exit_status=node.exit_status)
        parameters = node.outputs.output_parameters
        if 'energy' not in parameters.get_dict():
            return self.exit_codes.ERROR_NO_ENERGY
        self.out('output_parameters', parameters)
        energy = total_energy_ev(parameters)
        self.out('energy', energy)
        if self.inputs.relax.value:
            if 'output_structure' not in node.outputs:
                return self.exit_codes.ERROR_NO_RELAXED_STRUCTURE
            self.out('structure', node.outputs.output_structure)
        self.report(f'total energy {energy.value:.6f} eV')
