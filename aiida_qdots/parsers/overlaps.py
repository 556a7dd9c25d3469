"""Parser of ``qdots.overlaps``: ``overlaps.npz`` -> ArrayData."""

from __future__ import annotations

import io

import numpy as np
from aiida import orm
from aiida.parsers import Parser

from aiida_qdots.calculations.overlaps import OUTPUT


class OverlapsParser(Parser):
    """Store the energies and time-overlaps; map the script's failures to named exit codes."""

    def parse(self, **kwargs):
        names = self.retrieved.base.repository.list_object_names()
        stderr = self.retrieved.base.repository.get_object_content('overlaps.err') if 'overlaps.err' in names else ''
        if OUTPUT not in names:
            last = stderr.strip().splitlines()[-1] if stderr.strip() else 'no error output'
            if 'OrthonormalityError' in stderr:
                return self.exit_codes.ERROR_NOT_ORTHONORMAL.format(detail=last)
            if 'need at least 2 MOLDEN frames' in stderr:
                return self.exit_codes.ERROR_TOO_FEW_FRAMES
            if 'does not fit' in stderr:
                return self.exit_codes.ERROR_WINDOW.format(detail=last)
            return self.exit_codes.ERROR_OUTPUT_MISSING.format(detail=last)
        with self.retrieved.base.repository.open(OUTPUT, 'rb') as handle:
            data = np.load(io.BytesIO(handle.read()))
            arrays = {name: data[name] for name in data.files}
        node = orm.ArrayData()
        for name, values in arrays.items():
            node.set_array(name, values)
        node.base.attributes.set('units', {'energies': 'eV', 'overlaps': 'dimensionless'})
        node.base.attributes.set(
            'convention',
            'overlaps[t, i, j] = <psi_i(t)|psi_j(t+1)>, t over MOLDEN frames '
            '(steps array); orbitals of the window ordered by energy, HOMO at '
            'homo_index',
        )
        node.base.attributes.set('max_orthonormality_error', float(arrays['orthonormality_error'].max()))
        self.out('overlaps', node)
