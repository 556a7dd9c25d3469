"""Internal units and conversion constants.

Inside the package every quantity is in eV, fs, angstrom, amu and K; wavenumbers (cm^-1) and
THz appear only at the edges (tables, plots).
"""

HBAR_EV_FS = 0.6582119569
"""Reduced Planck constant in eV fs."""

KB_EV_K = 8.617333262e-5
"""Boltzmann constant in eV/K."""

HARTREE_EV = 27.211386245988
"""One hartree in eV."""

BOHR_ANGSTROM = 0.529177210903
"""One bohr in angstrom."""

AU_TIME_FS = 2.4188843265857e-2
"""Atomic unit of time in fs."""

AMU_KG = 1.66053906660e-27
EV_J = 1.602176634e-19

SPEED_OF_LIGHT_CM_FS = 2.99792458e-5
"""Speed of light in cm/fs, so that wavenumber (cm^-1) = frequency (1/fs) / c."""

FS_PER_PS = 1000.0
"""Femtoseconds per picosecond (LAMMPS ``units metal`` times are in ps)."""

UNITS = {'energy': 'eV', 'time': 'fs', 'length': 'angstrom', 'mass': 'amu', 'temperature': 'K'}
"""Unit labels written into output node attributes."""

CP2K_VELOCITY_ANGSTROM_FS = BOHR_ANGSTROM / AU_TIME_FS
"""CP2K writes velocities in bohr per atomic time unit; this converts them to angstrom/fs."""

HC_EV_NM = 1239.84198
"""Planck constant times the speed of light in eV nm: photon energy (eV) = HC_EV_NM / wavelength (nm)."""

MJ_EV = 1.0e-3 / EV_J
"""One millijoule in eV (fluences in mJ/cm^2)."""

KCAL_MOL_EV = 4.184 / 96.48533212
"""1 kcal/mol in eV (thermochemical calorie; 96.485 kJ/mol per eV)."""

COULOMB_EV_ANGSTROM = 14.399645
"""e^2 / (4 pi eps0) in eV angstrom (LAMMPS metal units' qqr2e)."""
