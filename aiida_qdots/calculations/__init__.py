"""CalcJobs: ``qdots.lammps`` (subpackage :mod:`.lammps`), ``qdots.overlaps`` and ``qdots.dish``."""
