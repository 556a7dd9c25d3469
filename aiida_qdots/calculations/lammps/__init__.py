"""The ``qdots.lammps`` CalcJob: its class and builder, input scripts (:mod:`.inputs`) and force fields."""

from aiida_qdots.calculations.lammps.calculation import QdotsLammpsCalculation, get_lammps_builder

__all__ = ('QdotsLammpsCalculation', 'get_lammps_builder')
