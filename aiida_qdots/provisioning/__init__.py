"""Provisioning: AiiDA computers (localhost, SLURM) and codes (CP2K, LAMMPS, Python) for the package."""
