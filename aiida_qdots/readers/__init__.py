"""Pure file formats (no AiiDA import), one module per format family.

* :mod:`~aiida_qdots.readers.trajectory`: every trajectory format behind one ``read_trajectory`` (``FORMATS``)
* :mod:`~aiida_qdots.readers.extxyz`: extended XYZ (and the XYZ-like frame scanner)
* :mod:`~aiida_qdots.readers.vasp`: POSCAR/CONTCAR, folders of POSCAR frames, XDATCAR
* :mod:`~aiida_qdots.readers.cp2k`: CP2K ``-pos-``/``-vel-`` XYZ trajectories
* :mod:`~aiida_qdots.readers.frames`: ``ParsedTrajectory``, what every trajectory reader returns
* :mod:`~aiida_qdots.readers.textfile`: streamed line reading of plain or gzip text with located errors
* :mod:`~aiida_qdots.readers.levels`: per-frame HOMO/LUMO CSV tables
* :mod:`~aiida_qdots.readers.ued`: UED tables (CSV/JSON)
* :mod:`~aiida_qdots.readers.lammps`: LAMMPS dumps and logs
"""
