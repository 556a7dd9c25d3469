"""Study B reproduced with the package's own runs (``aiida-qdots reproduce study-b``): two ``qdots.phonons`` runs side
by side, one per question, each on the largest particle it can afford.

- ``lattice``: the seed's particle (eight CdS monolayers on a CdSe core), MSD(T) and d<u^2>/dT, G(r) and dG(r) of
  the diffraction forward model (stages msd, pdf);
- ``lifetimes``: a smaller core/shell particle whose Hessian is diagonalised, mode lifetimes vs frequency (stages
  modes, lifetimes).

Particles, phonons protocols and their overrides come from ``study_b.yaml``. Each finished part is filed into
``qdots/<study>/<formula>/<nanocrystal>/phonons`` like ``qdots.lattice_study``'s; one failed part does not stop the
other.
"""

from __future__ import annotations

from aiida import orm
from aiida.engine import ToContext, WorkChain

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.common.filing import EXTRAS_KEY, file_stage, register_study, study_group_label
from aiida_qdots.functions.nanocrystals import nanocrystal_structure
from aiida_qdots.functions.study import lattice_summary
from aiida_qdots.protocols import ProtocolMixin, validated
from aiida_qdots.structures.nanocrystals import nanocrystal_from_recipe
from aiida_qdots.workchains.labelled import LabelledOutputsMixin
from aiida_qdots.workchains.lattice_study import nanocrystal_key
from aiida_qdots.workchains.phonons import PhononsWorkChain, validate_parameters
from aiida_qdots.workchains.study import validate_study

PARTS = ('lattice', 'lifetimes')
"""The two phonons runs of the reproduction, by the question each answers."""
PART_STAGES = {'lattice': {'msd', 'pdf'}, 'lifetimes': {'modes', 'lifetimes'}}
"""Stages each part must run for the report to have its numbers."""


def part_problem(part: str, phonons: dict) -> str | None:
    """Why the phonons inputs ``phonons`` (a Dict's content) cannot answer ``part``, or None."""
    missing = PART_STAGES[part] - set(phonons.get('stages', []))
    return f'the phonons stages must include {", ".join(sorted(missing))}' if missing else None


def validate_inputs(inputs, _ctx=None):
    for part in PARTS:
        if part in inputs and (problem := part_problem(part, inputs[part]['parameters'].get_dict())):
            return f'{part}: {problem}'


class StudyBWorkChain(LabelledOutputsMixin, ProtocolMixin, WorkChain):
    """The lattice part (seed-size particle: MSD(T), G(r), dG(r)) and the lifetimes part (Hessian-size particle:
    normal modes, mode lifetimes) of Study B, both launched at once."""

    _protocol_file = 'study_b.yaml'

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input('study', valid_type=orm.Str, validator=validate_study, help='Study label (groups qdots/<study>).')
        spec.input('protocol', valid_type=orm.Str, help='Protocol the inputs were made from (in the extras).')
        for part in PARTS:
            spec.expose_inputs(
                PhononsWorkChain,
                namespace=part,
                namespace_options={'help': f'qdots.phonons inputs of the {part} part (study_b.yaml).'},
            )
        spec.inputs.validator = validate_inputs
        spec.outline(cls.setup, cls.run_parts, cls.inspect_parts)
        spec.output('summary', valid_type=orm.Dict, help='Per part: state, node PKs, message.')
        spec.exit_code(474, 'ERROR_PARTS_FAILED', message='{failed}')

    @classmethod
    def get_builder_from_protocol(
        cls, code: orm.AbstractCode, study: str, protocol: str | None = None, overrides: dict | None = None
    ):
        """Build and store both particles of ``protocol`` (study_b.yaml; ``overrides`` merged, e.g.
        ``{'lattice': {'nanocrystal': {'diameter': 30.0}}}``) and return a complete, validated builder. Bad input
        raises QdotsInputError before any particle is stored."""
        study_group_label(study)
        inputs = cls.get_protocol_inputs(protocol, overrides)
        for part in PARTS:
            spec = inputs[part]
            phonons = PhononsWorkChain.get_protocol_inputs(spec['phonons_protocol'], spec.get('overrides'))
            phonons.pop('force_field')
            if problem := part_problem(part, phonons) or validate_parameters(orm.Dict(phonons)):
                raise QdotsInputError(f'{part}: {problem}')
            nanocrystal_from_recipe(spec['nanocrystal'])  # both recipes are checked before either is stored
        builder = cls.get_builder()
        builder.study = orm.Str(study)
        builder.protocol = orm.Str(protocol or cls.get_default_protocol())
        described = []
        for part in PARTS:
            spec = inputs[part]
            structure = nanocrystal_structure(**spec['nanocrystal'])
            phonons = PhononsWorkChain.get_builder_from_protocol(
                code, structure, spec['phonons_protocol'], spec.get('overrides')
            )
            builder[part] = phonons._inputs(prune=True)
            described.append(f'{part} {nanocrystal_key(spec["nanocrystal"])} ({len(structure.sites)} atoms)')
        builder.metadata.label = study
        builder.metadata.description = f'Study B reproduction {study}: {"; ".join(described)}'
        return validated(builder)

    def setup(self):
        group = register_study(self.node, self.inputs.study.value, 'study_b', self.inputs.protocol.value)
        self.report(f'parts {", ".join(PARTS)}; group {group.label}')

    def run_parts(self):
        processes = {}
        for part in PARTS:
            inputs = self.exposed_inputs(PhononsWorkChain, namespace=part)
            inputs['metadata'] = {**inputs.get('metadata', {}), 'call_link_label': part}
            node = self.submit(PhononsWorkChain, **inputs)
            self.report(f'{part}: launched qdots.phonons<{node.pk}> on {inputs["structure"].get_formula()}')
            processes[part] = node
        return ToContext(**processes)

    def inspect_parts(self):
        entries, failed = {}, []
        for part in PARTS:
            node = self.ctx[part]
            structure = self.inputs[part]['structure']
            recipe = structure.base.extras.get(EXTRAS_KEY, {})
            entry = {'stage': 'phonons', 'pk': node.pk, 'uuid': node.uuid, 'ok': node.is_finished_ok}
            entry['exit_status'] = node.exit_status
            if node.is_finished_ok:
                extras = {'kind': 'nanocrystal', 'part': part, 'protocol': self.inputs.protocol.value}
                extras.update({k: recipe[k] for k in ('diameter_requested', 'shell_monolayers') if k in recipe})
                key = nanocrystal_key(
                    {'diameter': recipe['diameter_requested'], 'shell_monolayers': recipe.get('shell_monolayers', 0)}
                )
                group = file_stage(node, self.inputs.study.value, structure.get_formula(), key, 'phonons', extras)
                self.report(f'{part}: finished; filed into {group.label}')
            else:
                entry['message'] = node.exit_message or f'exit status {node.exit_status}'
                failed.append(f'{part} ({entry["message"]})')
            entries[part] = orm.Dict(entry)
        self.out('summary', lattice_summary(self.inputs.study, **entries))
        if failed:
            return self.exit_codes.ERROR_PARTS_FAILED.format(failed='; '.join(failed))
