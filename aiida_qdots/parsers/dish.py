"""Parser of ``qdots.dish``: the recombination results -> the same ``summary`` / ``arrays`` nodes as ``qdots.namd``."""

from __future__ import annotations

import io
import json

import numpy as np
from aiida.parsers import Parser

from aiida_qdots.calculations.dish import ARRAYS, ERR, SUMMARY, recombination_nodes


class DishParser(Parser):
    """Store the summary Dict and arrays; map the runner's failures to named exit codes."""

    def parse(self, **kwargs):
        names = self.retrieved.base.repository.list_object_names()
        if ARRAYS not in names or SUMMARY not in names:
            stderr = self.retrieved.base.repository.get_object_content(ERR) if ERR in names else ''
            last = stderr.strip().splitlines()[-1] if stderr.strip() else 'no error output'
            if 'population not conserved' in stderr:
                return self.exit_codes.ERROR_POPULATION_NOT_CONSERVED.format(detail=last)
            return self.exit_codes.ERROR_OUTPUT_MISSING.format(detail=last)
        summary = json.loads(self.retrieved.base.repository.get_object_content(SUMMARY))
        with self.retrieved.base.repository.open(ARRAYS, 'rb') as handle, np.load(io.BytesIO(handle.read())) as data:
            arrays = {name: data[name] for name in data.files}
        for name, node in recombination_nodes(summary, arrays).items():
            self.out(name, node)
