"""Magic-size CdSe clusters of the first study and their ligand arrangements.

The framework is the Cd17Se4 core of the known Cd17Se4(SeR)24 cluster family (point group Td):

* one central Cd bonded to 4 mu4-Se (a zinc-blende tetrahedron);
* 12 Cd on the cuboctahedron around it, each bonded to one mu4-Se and three surface Se;
* 12 surface Se bridging two of those Cd, and 12 surface Se bridging one of them to a corner Cd;
* 4 corner Cd capping the four (111) faces in the eclipsed (barrelane, wurtzite-like) position,
  each bonded to three surface Se.

That is Cd17Se28 with 24 two-coordinate surface Se. Swapping the two species gives the Cd28Se17
partner with 24 two-coordinate surface Cd. Ligands (H on Se, Cl on Cd) sit on 22 of the 24
surface sites, which makes both clusters charge-neutral with formal charges Cd(+2), Se(-2),
H(+1), Cl(-1). The two bare sites pick one of 276 arrangements, which fall into a few
symmetry-distinct classes under Td; the classes get stable indices (see :func:`ligand_arrangements`).

Pure NumPy/ASE; no AiiDA import. Lengths in angstrom.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools

import numpy as np
from ase import Atoms

from aiida_qdots.common.errors import QdotsInputError
from aiida_qdots.structures.symmetry import point_group_operations, subset_orbits

CDSE_BOND = 2.63
"""Cd-Se bond of zinc-blende CdSe (a = 6.077 A), used to scale the framework (angstrom)."""

LIGAND_BONDS = {('Se', 'H'): 1.47, ('Cd', 'Cl'): 2.42}
"""Bond lengths (angstrom) of the ligand on its surface site."""

FORMAL_CHARGES = {'Cd': 2, 'Se': -2, 'S': -2, 'H': 1, 'Cl': -1}

N_SURFACE_SITES = 24
MIN_DISTANCE = 1.0
"""Two atoms closer than this (angstrom) make a structure invalid."""


@dataclasses.dataclass(frozen=True)
class ClusterComposition:
    """A magic-size cluster recipe: which species sits on the framework's cation/anion sites."""

    name: str
    core_species: str  # species on the 5-atom core sites (central atom + 4 corner atoms) and the 12 shell sites
    surface_species: str  # species on the 4 mu4 sites and the 24 two-coordinate surface sites
    ligand: str
    n_ligands: int = 22

    @property
    def formula(self) -> str:
        counts = {self.core_species: 17, self.surface_species: 28}
        return f'Cd{counts["Cd"]}Se{counts["Se"]}{self.ligand}{self.n_ligands}'


COMPOSITIONS = {
    'se-rich': ClusterComposition('se-rich', core_species='Cd', surface_species='Se', ligand='H'),
    'cd-rich': ClusterComposition('cd-rich', core_species='Se', surface_species='Cd', ligand='Cl'),
}
ALIASES = {'cd17se28h22': 'se-rich', 'cd28se17cl22': 'cd-rich'}


def get_composition(name: str) -> ClusterComposition:
    """Return the recipe for ``'se-rich'`` (Cd17Se28H22) or ``'cd-rich'`` (Cd28Se17Cl22)."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in COMPOSITIONS:
        known = ', '.join([*sorted(COMPOSITIONS), 'Cd17Se28H22', 'Cd28Se17Cl22'])
        raise QdotsInputError(f'unknown cluster composition {name!r}; known: {known}')
    return COMPOSITIONS[key]


@functools.lru_cache(maxsize=1)
def framework() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Cd17Se28 framework: positions (angstrom), sublattice (0 cation site, 1 anion site),
    and the indices of the 24 two-coordinate surface anion sites in a fixed order.

    Coordinates are built in units of a/4 of the zinc-blende cube (bond length sqrt(3)) and
    scaled to :data:`CDSE_BOND`.
    """
    tetra = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    cations = [np.zeros(3)]
    anions = list(tetra)  # mu4 sites
    shell = sorted({tuple(s - t) for s in tetra for t in tetra if np.any(s != t)})
    cations += [np.array(c) for c in shell]
    surface = []
    for cat in shell:
        for t in tetra:
            site = np.array(cat) + t
            if not any(np.allclose(site, a) for a in anions + surface):
                surface.append(site)
    for t in tetra:
        # corner cation on the (111)-type axis, eclipsed over the three one-bonded surface anions
        cap = [s for s in surface if np.isclose(np.dot(s, t), 7.0)]
        centroid = np.mean(cap, axis=0)
        lateral = np.linalg.norm(cap[0] - centroid)
        height = np.sqrt(3.0 - lateral**2)
        cations.append(centroid + height * t / np.linalg.norm(t))
    positions = np.array(cations + anions + surface) * CDSE_BOND / np.sqrt(3.0)
    sublattice = np.array([0] * len(cations) + [1] * (len(anions) + len(surface)))
    surface_indices = np.arange(len(cations) + len(anions), len(positions))
    return positions, sublattice, surface_indices


@functools.lru_cache(maxsize=1)
def surface_site_permutations() -> tuple[np.ndarray, ...]:
    """Permutations of the 24 surface sites induced by the framework's point group (Td, 24)."""
    positions, sublattice, surface = framework()
    _, perms = point_group_operations(positions, sublattice)
    where = {int(atom): k for k, atom in enumerate(surface)}
    return tuple(np.array([where[int(p[atom])] for atom in surface]) for p in perms)


@dataclasses.dataclass(frozen=True)
class LigandArrangement:
    """A symmetry-distinct choice of bare surface sites."""

    index: int
    bare_sites: tuple[int, ...]
    multiplicity: int
    bare_site_distance: float  # angstrom, between the bare sites (0 for one bare site)


@functools.cache
def ligand_arrangements(n_bare: int = 2) -> tuple[LigandArrangement, ...]:
    """Symmetry-distinct arrangements of ``n_bare`` bare sites among the 24 surface sites.

    Every C(24, n_bare) choice is enumerated and reduced to orbits under Td. Arrangement ``k``
    is the k-th orbit ordered by its smallest member (sites numbered as in :func:`framework`),
    which does not depend on how the group was generated; ``bare_sites`` is that smallest member.
    The multiplicities add up to C(24, n_bare).
    """
    if not 0 <= n_bare <= N_SURFACE_SITES:
        raise QdotsInputError(f'number of bare sites must be 0..{N_SURFACE_SITES}, got {n_bare}')
    positions, _, surface = framework()
    orbits = subset_orbits(list(surface_site_permutations()), N_SURFACE_SITES, n_bare)
    arrangements = []
    for index, orbit in enumerate(orbits):
        rep = orbit[0]
        pts = positions[surface[list(rep)]]
        dist = max((np.linalg.norm(p - q) for p, q in itertools.combinations(pts, 2)), default=0.0)
        arrangements.append(LigandArrangement(index, rep, len(orbit), round(float(dist), 4)))
    return tuple(arrangements)


def _ligand_positions(positions: np.ndarray, site: int, bonded: np.ndarray, bond: float) -> np.ndarray:
    """Ligand on ``site`` along the outward bisector of the site's bonds to ``bonded`` atoms."""
    units = positions[bonded] - positions[site]
    units /= np.linalg.norm(units, axis=1)[:, None]
    direction = -units.sum(axis=0)
    return positions[site] + bond * direction / np.linalg.norm(direction)


def check_structure(atoms: Atoms, min_distance: float = MIN_DISTANCE) -> None:
    """Raise :class:`QdotsInputError` if two atoms are closer than ``min_distance`` (angstrom)."""
    pos = atoms.get_positions()
    dist = np.linalg.norm(pos[:, None] - pos[None, :], axis=-1)
    np.fill_diagonal(dist, np.inf)
    i, j = np.unravel_index(dist.argmin(), dist.shape)
    if dist[i, j] < min_distance:
        symbols = atoms.get_chemical_symbols()
        raise QdotsInputError(
            f'atoms {i} ({symbols[i]}) and {j} ({symbols[j]}) overlap: {dist[i, j]:.3f} A apart '
            f'(minimum {min_distance} A)'
        )


def net_formal_charge(symbols: list[str]) -> int:
    """Sum of formal charges (Cd +2, Se/S -2, H +1, Cl -1)."""
    try:
        return sum(FORMAL_CHARGES[s] for s in symbols)
    except KeyError as exc:
        raise QdotsInputError(f'no formal charge known for element {exc.args[0]}') from exc


def build_magic_cluster(
    composition: str,
    arrangement: int | None = 0,
    bare_sites: tuple[int, ...] | None = None,
    n_ligands: int | None = None,
    vacuum: float = 8.0,
) -> Atoms:
    """Build Cd17Se28H22 (``'se-rich'``) or Cd28Se17Cl22 (``'cd-rich'``) as ASE Atoms.

    The bare surface sites come from ``bare_sites`` (indices 0-23 into the surface sites) when
    given, else from the symmetry-distinct ``arrangement`` index of :func:`ligand_arrangements`.
    ``n_ligands`` defaults to 22; the result must be charge-neutral, so any other count is an
    error. The cluster is centred in a cubic box with ``vacuum`` angstrom on every side and
    carries its recipe in ``atoms.info``.
    """
    recipe = get_composition(composition)
    n_ligands = recipe.n_ligands if n_ligands is None else n_ligands
    if not 0 <= n_ligands <= N_SURFACE_SITES:
        raise QdotsInputError(
            f'{recipe.name} has {N_SURFACE_SITES} surface sites; cannot place {n_ligands} {recipe.ligand} ligands'
        )
    n_bare = N_SURFACE_SITES - n_ligands
    if bare_sites is None:
        options = ligand_arrangements(n_bare)
        if arrangement is None or not 0 <= arrangement < len(options):
            raise QdotsInputError(
                f'ligand arrangement index must be 0..{len(options) - 1} for {n_bare} bare sites, got {arrangement}'
            )
        bare_sites = options[arrangement].bare_sites
    bare_sites = tuple(int(s) for s in bare_sites)
    if len(set(bare_sites)) != n_bare or any(not 0 <= s < N_SURFACE_SITES for s in bare_sites):
        raise QdotsInputError(
            f'bare_sites must be {n_bare} distinct indices in 0..{N_SURFACE_SITES - 1}, got {bare_sites}'
        )

    positions, sublattice, surface = framework()
    symbols = [recipe.core_species if s == 0 else recipe.surface_species for s in sublattice]
    net = net_formal_charge(symbols + [recipe.ligand] * n_ligands)
    if net != 0:
        raise QdotsInputError(
            f'{recipe.name} cluster with {n_ligands} {recipe.ligand} ligands carries a formal charge '
            f'of {net:+d}; only the neutral {recipe.formula} is built'
        )
    bond = LIGAND_BONDS[(recipe.surface_species, recipe.ligand)]
    dist = np.linalg.norm(positions[:, None] - positions[None, :], axis=-1)
    ligand_pos = []
    for k, site in enumerate(surface):
        if k in bare_sites:
            continue
        bonded = np.flatnonzero((dist[site] > 0.1) & (dist[site] < 1.1 * CDSE_BOND))
        ligand_pos.append(_ligand_positions(positions, site, bonded, bond))
    atoms = Atoms(symbols + [recipe.ligand] * n_ligands, positions=np.vstack([positions, *ligand_pos]))
    atoms.center(vacuum=vacuum)
    side = atoms.cell.lengths().max()
    atoms.set_cell([side, side, side])
    atoms.center()
    atoms.pbc = False
    check_structure(atoms)
    atoms.info.update(
        {
            'composition': recipe.name,
            'formula': recipe.formula,
            'ligand': recipe.ligand,
            'n_ligands': n_ligands,
            'bare_sites': list(bare_sites),
            'arrangement': arrangement_of(bare_sites),
        }
    )
    return atoms


def arrangement_of(bare_sites: tuple[int, ...]) -> int:
    """Index of the symmetry-distinct arrangement that ``bare_sites`` belongs to."""
    canonical = min(tuple(sorted(perm[list(bare_sites)].tolist())) for perm in surface_site_permutations())
    return next(o.index for o in ligand_arrangements(len(bare_sites)) if o.bare_sites == canonical)
