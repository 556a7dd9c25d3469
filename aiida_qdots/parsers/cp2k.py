"""``qdots.cp2k``: aiida-cp2k's base parser plus the SCF-convergence check it lacks."""
from __future__ import annotations

import re

from aiida_cp2k.parsers import Cp2kBaseParser

SCF_CONVERGED = re.compile(r'\*\*\* SCF run converged in|outer SCF loop converged in')
SCF_FAILED = re.compile(r'SCF run NOT converged|outer SCF loop FAILED to converge')


def final_scf_converged(output: str) -> bool | None:
    """Whether the last SCF in a CP2K output converged; None when the output has no SCF at all.

    CP2K 2023.1 with an OUTER_SCF section only warns when the SCF fails and goes on with the
    unconverged energy, so the last SCF verdict decides (earlier MD/GEO_OPT steps may have failed
    and recovered).
    """
    last_ok = max((m.start() for m in SCF_CONVERGED.finditer(output)), default=-1)
    last_failed = max((m.start() for m in SCF_FAILED.finditer(output)), default=-1)
    if last_ok < 0 and last_failed < 0:
        return None
    return last_ok > last_failed


class Cp2kEnergyParser(Cp2kBaseParser):
    """Parse energy and final structure like ``cp2k_base_parser``, and fail on an unconverged final SCF.

    An unconverged final SCF returns ``ERROR_SCF_NOT_CONVERGED`` (the outputs parsed so far are kept),
    which ``cp2k.base``'s restart handler continues from the wavefunction restart file.
    """

    def parse(self, **kwargs):
        exit_code = super().parse(**kwargs)
        if exit_code is not None and exit_code.status:
            return exit_code
        output = self.retrieved.base.repository.get_object_content(self.node.base.attributes.get('output_filename'))
        if final_scf_converged(output) is False:
            self.logger.error('the final SCF did not converge; CP2K went on with an unconverged energy')
            return self.exit_codes.ERROR_SCF_NOT_CONVERGED
        return exit_code
