"""``qdots.lammps``: aiida-lammps' ``lammps.raw`` CalcJob with a structure input and qdots outputs.

``lammps.raw`` runs any script but declares only the ``results`` output. This subclass adds

* input ``structure`` (StructureData, optional): written as ``structure.data`` next to the script, so
  the structure is a direct provenance input of the run (the script reads it with ``read_data``);
* outputs ``thermo`` (ArrayData), ``trajectory`` (TrajectoryData), ``structure`` (StructureData of the
  final configuration) and ``forces`` (ArrayData), filled by the ``qdots.lammps`` parser;
* exit codes for missing or unreadable dump files and for output that stops before LAMMPS' end;
* lean retrieval: the large dumps (trajectory, Hessian forces, dynamical matrix) requested in the settings'
  ``additional_retrieve_list`` are fetched into a temporary folder, parsed to arrays and deleted, unless the settings
  say ``keep_raw_dumps: True`` (then they are stored in ``retrieved`` too).

Inputs are best made with :func:`get_lammps_builder` (scripts and data file: :mod:`.inputs`).
"""

from __future__ import annotations

import dataclasses
import io

from aiida import orm
from aiida.common.datastructures import CalcInfo
from aiida.common.folders import Folder
from aiida_lammps.calculations.raw import LammpsRawCalculation

from aiida_qdots.calculations.lammps.force_fields import get_force_field_node
from aiida_qdots.calculations.lammps.inputs import (
    FINAL_FILENAME,
    RAW_DUMPS,
    STRUCTURE_FILENAME,
    TRAJECTORY_FILENAME,
    HessianSettings,
    MDSettings,
    MinimizeSettings,
    hessian_script,
    md_script,
    minimize_script,
    single_point_script,
    write_lammps_data,
)
from aiida_qdots.common.errors import QdotsInputError


class QdotsLammpsCalculation(LammpsRawCalculation):
    """Run a qdots-generated LAMMPS script on a StructureData and parse thermo, trajectory and final state."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'structure',
            valid_type=orm.StructureData,
            required=False,
            help=f'Structure written as `{STRUCTURE_FILENAME}` (atom_style atomic, or charge with the charges of a '
            'pair-potential `files.potential`; one atom type per kind, in the order of `structure.kinds`); the '
            'parser maps outputs back to its frame and kinds.',
        )
        spec.inputs['metadata']['options']['parser_name'].default = 'qdots.lammps'
        spec.output(
            'thermo',
            valid_type=orm.ArrayData,
            required=False,
            help='Thermo tables of every run/minimize block, one array per column, plus `block`.',
        )
        spec.output(
            'trajectory',
            valid_type=orm.TrajectoryData,
            required=False,
            help='Dumped frames: positions (angstrom), velocities (angstrom/fs), times (fs).',
        )
        spec.output(
            'structure',
            valid_type=orm.StructureData,
            required=False,
            help='Final configuration (e.g. the minimised structure), kinds and frame of the input.',
        )
        spec.output(
            'forces',
            valid_type=orm.ArrayData,
            required=False,
            help='Array `forces` (eV/angstrom) on the final configuration, same atom order as the input.',
        )
        spec.output(
            'hessian',
            valid_type=orm.ArrayData,
            required=False,
            help='Finite-difference Hessian (eV/angstrom^2, 3N x 3N, input atom order and frame).',
        )
        spec.exit_code(
            352,
            'ERROR_DUMP_MISSING',
            invalidates_cache=True,
            message='the dump file {filename} requested in the retrieve list was not retrieved',
        )
        spec.exit_code(353, 'ERROR_DUMP_INVALID', message='the dump file {filename} could not be parsed: {error}')
        spec.exit_code(
            354,
            'ERROR_OUTPUT_INCOMPLETE',
            invalidates_cache=True,
            message='LAMMPS output ends before the end of the script (killed or out of walltime?): {detail}',
        )

    @classmethod
    def validate_inputs(cls, value, ctx):
        """Also reject a ``files`` entry that would overwrite the structure data file."""
        message = super().validate_inputs(value, ctx)
        if message:
            return message
        if 'structure' in value:
            overrides = value['filenames'].get_dict() if 'filenames' in value else {}
            names = [overrides.get(key, node.filename) for key, node in value.get('files', {}).items()]
            if STRUCTURE_FILENAME in names:
                return f'`files` may not contain {STRUCTURE_FILENAME}: it is written from the `structure` input'
        if 'settings' in value and not isinstance(value['settings'].get('keep_raw_dumps', False), bool):
            return f'settings `keep_raw_dumps` must be true or false, got {value["settings"]["keep_raw_dumps"]!r}'

    def prepare_for_submission(self, folder: Folder) -> CalcInfo:
        """Write script and files as ``lammps.raw`` does, plus the structure data file; large dumps are retrieved
        only for the parser (``retrieve_temporary_list``) unless the settings say ``keep_raw_dumps``."""
        calcinfo = super().prepare_for_submission(folder)
        settings = self.inputs.settings.get_dict() if 'settings' in self.inputs else {}
        if not settings.get('keep_raw_dumps', False):
            raw = [entry for entry in calcinfo.retrieve_list if entry in RAW_DUMPS]
            calcinfo.retrieve_list = [entry for entry in calcinfo.retrieve_list if entry not in raw]
            calcinfo.retrieve_temporary_list = raw
        if 'structure' in self.inputs:
            potential = self.inputs.get('files', {}).get('potential')
            charges = potential.base.attributes.get('charges', None) if potential is not None else None
            with folder.open(STRUCTURE_FILENAME, 'w') as handle:
                handle.write(write_lammps_data(self.inputs.structure, charges))
        return calcinfo


def get_lammps_builder(
    code: orm.AbstractCode,
    structure: orm.StructureData,
    force_field: orm.SinglefileData | str | None = None,
    settings: MDSettings | MinimizeSettings | HessianSettings | None = None,
    *,
    num_mpiprocs: int | None = None,
    max_wallclock_seconds: int = 3600,
    label: str | None = None,
    keep_raw_dumps: bool = False,
):
    """Ready-to-launch builder of :class:`QdotsLammpsCalculation`.

    ``force_field`` is a node from :func:`get_force_field_node` or a registry name (default
    ``sw_zhou2013``). ``settings`` picks the run: :class:`MDSettings`, :class:`MinimizeSettings`,
    or ``None`` for a single point. The settings are recorded in the ``settings`` input under
    ``qdots`` (times in fs). ``num_mpiprocs`` defaults to the computer's default. ``keep_raw_dumps`` also stores
    the trajectory / Hessian dumps in ``retrieved`` (by default they are parsed to arrays and not kept).
    """
    if force_field is None or isinstance(force_field, str):
        force_field = get_force_field_node(force_field or 'sw_zhou2013')
    if isinstance(settings, MDSettings):
        mode, script = 'md', md_script(structure, force_field, settings)
    elif isinstance(settings, MinimizeSettings):
        mode, script = 'minimize', minimize_script(structure, force_field, settings)
    elif isinstance(settings, HessianSettings):
        mode, script = 'hessian', hessian_script(structure, force_field, settings)
    elif settings is None:
        mode, script = 'single_point', single_point_script(structure, force_field)
    else:
        raise QdotsInputError(
            f'settings must be MDSettings, MinimizeSettings, HessianSettings or None, got {type(settings).__name__}'
        )
    record = {'mode': mode, 'phases': settings.phases if settings else ['single_point']}
    if settings is not None:
        record.update(dataclasses.asdict(settings))
    retrieve = [FINAL_FILENAME]
    if isinstance(settings, MDSettings) and settings.dump_every:
        retrieve.insert(0, TRAJECTORY_FILENAME)
    if isinstance(settings, HessianSettings):
        retrieve.insert(0, settings.filename)

    builder = QdotsLammpsCalculation.get_builder()
    builder.code = code
    builder.structure = structure
    builder.script = orm.SinglefileData(io.BytesIO(script.encode()), filename='input.in')
    builder.files = {'potential': force_field}
    builder.settings = orm.Dict(
        {'additional_retrieve_list': retrieve, 'keep_raw_dumps': bool(keep_raw_dumps), 'qdots': record}
    )
    resources: dict = {'num_machines': 1}
    if num_mpiprocs is not None:
        if num_mpiprocs <= 0:
            raise QdotsInputError(f'num_mpiprocs must be positive, got {num_mpiprocs}')
        resources['num_mpiprocs_per_machine'] = int(num_mpiprocs)
    builder.metadata.options.resources = resources
    builder.metadata.options.max_wallclock_seconds = int(max_wallclock_seconds)
    builder.metadata.options.parser_name = 'qdots.lammps'
    builder.metadata.label = label or f'lammps {mode} {structure.get_formula()}'
    return builder
