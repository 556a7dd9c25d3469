"""``qdots.overlaps``: orbital time-overlaps computed next to CP2K's MOLDEN files on the compute machine."""

from __future__ import annotations

from aiida import orm
from aiida.common.datastructures import CalcInfo, CodeInfo
from aiida.engine import CalcJob

PARENT = 'parent_calc'
PREVIOUS = 'previous_calc'
OUTPUT = 'overlaps.npz'


def validate_window(value, _ctx=None):
    window = value.get_dict()
    for key in ('below', 'above'):
        if not isinstance(window.get(key), int) or window[key] < 1:
            return f'window.{key} must be a positive integer, got {window.get(key)!r}'


class OverlapsCalculation(CalcJob):
    """Run ``python -m aiida_qdots.analysis.overlaps`` on the MOLDEN files of a CP2K run (``parent_folder``).

    The parent folder is linked (same computer) or copied, never retrieved: only ``overlaps.npz``
    (energies and overlaps of the orbital window) comes back. The code is a Python interpreter with
    aiida-qdots and PySCF installed (``qdots-python@localhost`` from ``aiida-qdots setup``).
    """

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.input(
            'parent_folder', valid_type=orm.RemoteData, help='CP2K run folder with <project>-MOS-1_<step>.molden files.'
        )
        spec.input(
            'previous_folder',
            valid_type=orm.RemoteData,
            required=False,
            help="The previous chunk's CP2K run folder: its last MOLDEN file is the frame before this one's first "
            '(step 0), so that the pair across the chunk boundary is covered without computing a frame twice.',
        )
        spec.input(
            'window',
            valid_type=orm.Dict,
            validator=validate_window,
            help='{"below": n occupied up to the HOMO, "above": n virtual from the LUMO}',
        )
        spec.inputs['metadata']['options']['parser_name'].default = 'qdots.overlaps'
        spec.inputs['metadata']['options']['resources'].default = {'num_machines': 1, 'num_mpiprocs_per_machine': 1}
        spec.inputs['metadata']['options']['withmpi'].default = False
        spec.output(
            'overlaps',
            valid_type=orm.ArrayData,
            help='energies (eV), overlaps[t,i,j] = <i(t)|j(t+1)>, steps, orthonormality_error, homo_index.',
        )
        spec.exit_code(310, 'ERROR_NOT_ORTHONORMAL', message='orbitals failed the C^T S C = 1 check: {detail}')
        spec.exit_code(311, 'ERROR_OUTPUT_MISSING', message='overlaps.npz was not produced: {detail}')
        spec.exit_code(312, 'ERROR_TOO_FEW_FRAMES', message='fewer than 2 MOLDEN frames in the parent folder')
        spec.exit_code(313, 'ERROR_WINDOW', message='the orbital window does not fit: {detail}')

    def prepare_for_submission(self, folder):
        window = self.inputs.window.get_dict()
        code = CodeInfo()
        code.code_uuid = self.inputs.code.uuid
        code.cmdline_params = [
            '-m',
            'aiida_qdots.analysis.overlaps',
            PARENT,
            '--below',
            str(window['below']),
            '--above',
            str(window['above']),
            '--output',
            OUTPUT,
        ]
        if 'previous_folder' in self.inputs:
            code.cmdline_params += ['--previous', PREVIOUS]
        code.stdout_name = 'overlaps.log'
        code.stderr_name = 'overlaps.err'
        calc = CalcInfo()
        calc.codes_info = [code]
        calc.remote_symlink_list, calc.remote_copy_list = [], []
        for name, target in ((PARENT, self.inputs.parent_folder), (PREVIOUS, self.inputs.get('previous_folder'))):
            if target is None:
                continue
            link = (target.computer.uuid, target.get_remote_path(), name)
            same = target.computer.uuid == self.inputs.code.computer.uuid
            (calc.remote_symlink_list if same else calc.remote_copy_list).append(link)
        calc.retrieve_list = [OUTPUT, 'overlaps.log', 'overlaps.err']
        return calc
