"""``qdots.dish``: the NAMD recombination analysis (NACs -> dephasing -> DISH -> fit) as a job on a compute machine.

For large DISH ensembles (nanoseconds x thousands of realisations x many initial times) the in-process
calcfunction of ``qdots.namd`` would occupy a daemon worker for hours; this CalcJob runs the same pure
function (:func:`aiida_qdots.analysis.recombination.recombination_analysis`) through
``python -m aiida_qdots.analysis.recombination`` under any scheduler, so the results are identical for the
same Hamiltonian, parameters and seed.
"""

from __future__ import annotations

import io
import json

import numpy as np
from aiida import orm
from aiida.common.datastructures import CalcInfo, CodeInfo
from aiida.engine import CalcJob

from aiida_qdots.analysis.recombination import REQUIRED_PARAMETERS

HAMILTONIAN = 'hamiltonian.npz'
PARAMETERS = 'parameters.json'
ARRAYS = 'recombination.npz'
SUMMARY = 'recombination.json'
LOG, ERR = 'dish.log', 'dish.err'


ARRAY_UNITS = {'nac': '1/fs', 'gap': 'eV', 'time': 'fs', 'gap_acf': 'eV^2', 'dephasing': 'dimensionless'}


def recombination_nodes(summary: dict, arrays: dict[str, np.ndarray]) -> dict[str, orm.Data]:
    """``summary`` Dict and ``arrays`` ArrayData of a recombination analysis (in process or ``qdots.dish``)."""
    node = orm.ArrayData()
    for name, values in arrays.items():
        node.set_array(name, values)
    node.base.attributes.set('units', ARRAY_UNITS)
    return {'summary': orm.Dict(summary), 'arrays': node}


def validate_hamiltonian(value, _ctx=None):
    names = set(value.get_arraynames())
    missing = {'energies', 'overlaps', 'homo_index'} - names
    if missing:
        return f'hamiltonian lacks the array(s) {", ".join(sorted(missing))} (qdots.namd assembles them)'


def validate_parameters(value, _ctx=None):
    parameters = value.get_dict()
    missing = [key for key in REQUIRED_PARAMETERS if key not in parameters]
    if missing:
        return f'parameters lack {", ".join(missing)}'
    for key in ('timestep_fs', 'duration_fs'):
        if not parameters[key] > 0:
            return f'parameters.{key} must be positive, got {parameters[key]!r}'
    for key in ('n_realisations', 'initial_frames'):
        if not isinstance(parameters[key], int) or parameters[key] < 1:
            return f'parameters.{key} must be a positive integer, got {parameters[key]!r}'


class DishCalculation(CalcJob):
    """Recombination analysis of a stored NAMD Hamiltonian, run by a Python with aiida-qdots (``qdots-python``)."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'hamiltonian',
            valid_type=orm.ArrayData,
            validator=validate_hamiltonian,
            help='energies (eV), overlaps <i(t)|j(t+1)>, homo_index: the output of qdots.namd',
        )
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            validator=validate_parameters,
            help='timestep_fs, duration_fs, n_realisations, initial_frames; optional temperature_k, '
            'convention, seed, n_bootstrap (as the namd input of qdots.namd)',
        )
        spec.inputs['metadata']['options']['parser_name'].default = 'qdots.dish'
        spec.inputs['metadata']['options']['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        spec.inputs['metadata']['options']['withmpi'].default = False
        spec.output('summary', valid_type=orm.Dict, help='mean |NAC| (meV), dephasing (fs), recombination (ns) + CI')
        spec.output('arrays', valid_type=orm.ArrayData, help='NAC and gap series, dephasing, excited population, fit')
        spec.exit_code(320, 'ERROR_OUTPUT_MISSING', message='the recombination results were not written: {detail}')
        spec.exit_code(321, 'ERROR_POPULATION_NOT_CONSERVED', message='DISH populations not conserved: {detail}')

    def prepare_for_submission(self, folder):
        hamiltonian = self.inputs.hamiltonian
        buffer = io.BytesIO()
        np.savez(
            buffer,
            energies=hamiltonian.get_array('energies'),
            overlaps=hamiltonian.get_array('overlaps'),
            homo_index=hamiltonian.get_array('homo_index'),
        )
        with folder.open(HAMILTONIAN, 'wb') as handle:
            handle.write(buffer.getvalue())
        with folder.open(PARAMETERS, 'w') as handle:
            json.dump(self.inputs.parameters.get_dict(), handle, indent=1)
        code = CodeInfo()
        code.code_uuid = self.inputs.code.uuid
        code.cmdline_params = [
            '-m',
            'aiida_qdots.analysis.recombination',
            HAMILTONIAN,
            PARAMETERS,
            '--arrays',
            ARRAYS,
            '--summary',
            SUMMARY,
        ]
        code.stdout_name, code.stderr_name = LOG, ERR
        calc = CalcInfo()
        calc.codes_info = [code]
        calc.retrieve_list = [ARRAYS, SUMMARY, LOG, ERR]
        return calc
