"""Calcfunctions that turn CP2K outputs into energies (eV)."""

from aiida import orm
from aiida.engine import calcfunction

from aiida_qdots.common.units import HARTREE_EV


@calcfunction
def total_energy_ev(output_parameters: orm.Dict) -> orm.Float:
    """CP2K's final total energy (``energy``, hartree) converted to eV."""
    return orm.Float(output_parameters['energy'] * HARTREE_EV)
