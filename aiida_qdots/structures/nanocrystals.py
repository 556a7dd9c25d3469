"""Spherical CdSe nanocrystals and CdSe/CdS core/shell particles cut from bulk wurtzite or zinc blende.

Recipe (:func:`build_nanocrystal`):

1. One lattice is used for the whole particle: the bulk lattice of the *core* material (see
   :data:`LATTICE_CONSTANTS`). A shell grown coherently (pseudomorphically) takes the lattice of the
   crystal it grows on; with one lattice every core/shell interface bond is a proper tetrahedral bond
   and there are no misfit defects. The CdSe/CdS misfit (3.8 % in a for wurtzite, 4.1 % for zinc
   blende) is left for the force field to relax in a minimisation; the shell material's own constants
   are recorded for reference.
2. The sphere is centred on the midpoint of a cation-anion bond by default (``centre='bond'``): for
   zinc blende any bond, for wurtzite a basal (not the c-parallel) bond. Inversion through that point
   maps the cation sublattice exactly onto the anion sublattice (it is the inversion centre of the
   species-blind diamond / lonsdaleite lattice), so the cut sphere, the trimming of step 4 and the
   Se-core/S-shell assignment of step 3 are all symmetric under it: the as-cut particle is exactly
   stoichiometric, without removing any atom by hand. ``centre='cation'`` or ``'anion'`` puts an atom at
   the centre instead (C3v particles for wurtzite, Td for zinc blende), which are generally
   non-stoichiometric as cut.
3. Every lattice site within ``r_core + n * t_ML`` of the centre is kept, where ``r_core = diameter / 2``
   and ``t_ML`` is one monolayer: one cation-anion bilayer of the lattice used, i.e. ``c/2`` along the
   wurtzite c axis or ``a/sqrt(3)``, the (111) bilayer spacing, for zinc blende (3.505 and 3.509 A for
   CdSe; the nominal CdS values are 3.357 and 3.366 A). Cation sites hold Cd; anion sites hold the
   core anion (Se) within ``r_core`` and the shell anion (S) outside it.
4. Atoms with fewer than 2 neighbours within the bond cut-off (1.3 x the longest bulk bond) are
   removed, repeatedly, until none is left.
5. Stoichiometry: ``'as-cut'`` keeps the result of step 4; ``'stoichiometric'`` (cation excess 0) or an
   integer cation excess ``n_Cd - n_anion`` is reached by removing one surface atom (fewer than 4
   neighbours) at a time of the species in excess: the least-coordinated one, ties broken by the largest
   distance from the centre, then by the lowest index (atoms are indexed by species, then distance from
   the centre, then lattice-generation order). Only atoms whose removal leaves every neighbour with at
   least 2 neighbours are candidates, so step 4's guarantee holds; if none is left, the excess is
   impossible and :class:`QdotsInputError` says so.

Pure NumPy/SciPy/ASE; no AiiDA import. Lengths in angstrom.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping

import numpy as np
from ase import Atoms
from scipy.spatial import cKDTree

from aiida_qdots.common.errors import QdotsInputError

LATTICES = ('wurtzite', 'zincblende')
LATTICE_ALIASES = {'wz': 'wurtzite', 'zinc-blende': 'zincblende', 'zinc_blende': 'zincblende', 'zb': 'zincblende'}

U_IDEAL = 3.0 / 8.0
"""Wurtzite internal parameter u (anion height above the cation, in units of c): the ideal 3/8."""

LATTICE_CONSTANTS = {
    ('CdSe', 'wurtzite'): {'a': 4.30, 'c': 7.01, 'u': U_IDEAL},
    ('CdS', 'wurtzite'): {'a': 4.136, 'c': 6.714, 'u': U_IDEAL},
    ('CdSe', 'zincblende'): {'a': 6.077},
    ('CdS', 'zincblende'): {'a': 5.83},
}
"""Experimental room-temperature lattice constants (angstrom); u is the ideal value, not a measurement."""

LATTICE_SOURCES = {
    ('CdSe', 'wurtzite'): 'a = 4.2999, c = 7.0109 A (O. Madelung, Semiconductors: Data Handbook, 3rd ed., '
    'Springer 2004), rounded',
    ('CdS', 'wurtzite'): 'a = 4.1367, c = 6.7161 A (O. Madelung, Semiconductors: Data Handbook, 3rd ed., '
    'Springer 2004), rounded',
    ('CdSe', 'zincblende'): 'a = 6.077 A, epitaxial zinc-blende CdSe (N. Samarth et al., Appl. Phys. Lett. 54, '
    '2680 (1989))',
    ('CdS', 'zincblende'): 'a = 5.83 A (zinc-blende CdS; O. Madelung, Semiconductors: Data Handbook, 3rd ed., '
    'Springer 2004)',
}

MATERIALS = {'CdSe': ('Cd', 'Se'), 'CdS': ('Cd', 'S')}
"""Cation and anion of each known material."""

CENTRES = ('bond', 'cation', 'anion')
STOICHIOMETRIES = ('stoichiometric', 'as-cut')
MIN_NEIGHBOURS = 2
BULK_COORDINATION = 4
BOND_CUTOFF_FACTOR = 1.3
"""Neighbour cut-off as a multiple of the longest bulk bond (2nd neighbours sit at >= 1.63 x the bond)."""
MAX_ATOMS = 200_000
DEFAULT_VACUUM = 10.0
_ROUND = 6  # decimals (angstrom) to which radii are rounded, so that inversion partners compare equal


def normalise_lattice(lattice: str) -> str:
    """Return ``'wurtzite'`` or ``'zincblende'`` for a lattice name or alias (``'zinc-blende'``, ``'wz'``, ...)."""
    key = str(lattice).strip().lower()
    key = LATTICE_ALIASES.get(key, key)
    if key not in LATTICES:
        raise QdotsInputError(f'unknown lattice {lattice!r}; known: wurtzite, zincblende (or zinc-blende)')
    return key


def lattice_constants(material: str, lattice: str) -> dict[str, float]:
    """Bulk lattice constants (angstrom; ``u`` dimensionless for wurtzite) of ``material`` in ``lattice``."""
    lattice = normalise_lattice(lattice)
    if material not in MATERIALS:
        raise QdotsInputError(f'unknown material {material!r}; known: {", ".join(MATERIALS)}')
    return dict(LATTICE_CONSTANTS[(material, lattice)])


def bond_lengths(lattice: str, constants: dict[str, float]) -> tuple[float, ...]:
    """Nearest-neighbour cation-anion distances (angstrom) of the bulk lattice.

    Zinc blende: ``a sqrt(3) / 4``. Wurtzite: ``u c`` along c and ``sqrt(a^2/3 + (1/2 - u)^2 c^2)`` for the
    three basal bonds; they coincide only for the ideal ``c/a = sqrt(8/3)``.
    """
    lattice = normalise_lattice(lattice)
    a = constants['a']
    if lattice == 'zincblende':
        return (a * math.sqrt(3.0) / 4.0,)
    c, u = constants['c'], constants['u']
    return (u * c, math.sqrt(a**2 / 3.0 + ((0.5 - u) * c) ** 2))


def monolayer_thickness(lattice: str, constants: dict[str, float]) -> float:
    """One cation-anion bilayer (angstrom): ``c/2`` for wurtzite, the (111) spacing ``a/sqrt(3)`` for zinc blende."""
    if normalise_lattice(lattice) == 'wurtzite':
        return constants['c'] / 2.0
    return constants['a'] / math.sqrt(3.0)


def _unit_cell(lattice: str, constants: dict[str, float], centre: str):
    """Cell vectors (rows, angstrom), fractional cation and anion sites, fractional sphere centre."""
    a = constants['a']
    if lattice == 'wurtzite':
        c, u = constants['c'], constants['u']
        cell = np.array([[a, 0.0, 0.0], [-a / 2.0, a * math.sqrt(3.0) / 2.0, 0.0], [0.0, 0.0, c]])
        cations = np.array([[1 / 3, 2 / 3, 0.0], [2 / 3, 1 / 3, 0.5]])
        anions = cations + np.array([0.0, 0.0, u])
        # midpoint of the basal bond between the cation at (2/3, 1/3, 1/2) and the anion at (1/3, 2/3, u)
        bond_mid = np.array([0.5, 0.5, (0.5 + u) / 2.0])
    else:
        cell = a * np.eye(3)
        cations = np.array([[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]])
        anions = cations + 0.25
        bond_mid = np.full(3, 0.125)
    origin = {'bond': bond_mid, 'cation': cations[0], 'anion': anions[0]}[centre]
    return cell, cations, anions, origin


def _lattice_sites(cell: np.ndarray, basis: np.ndarray, origin: np.ndarray, radius: float):
    """Cartesian sites (relative to ``origin``) and their rounded radii, for every site within ``radius``."""
    reciprocal = np.linalg.inv(cell).T  # rows b_i with a_i . b_j = delta_ij
    extent = np.ceil(radius * np.linalg.norm(reciprocal, axis=1)).astype(int) + 1
    grids = np.meshgrid(*[np.arange(-e, e + 1) for e in extent], indexing='ij')
    translations = np.stack([g.ravel() for g in grids], axis=1).astype(float)
    frac = (translations[:, None, :] + (basis - origin)[None, :, :]).reshape(-1, 3)
    positions = frac @ cell
    radii = np.round(np.linalg.norm(positions, axis=1), _ROUND)
    keep = radii <= radius + 10.0**-_ROUND
    return positions[keep], radii[keep]


def _neighbour_table(positions: np.ndarray, cutoff: float) -> np.ndarray:
    """Padded neighbour indices (n_atoms x max_neighbours, -1 for none) within ``cutoff`` (angstrom)."""
    pairs = cKDTree(positions).query_pairs(cutoff, output_type='ndarray')
    first = np.concatenate([pairs[:, 0], pairs[:, 1]])
    second = np.concatenate([pairs[:, 1], pairs[:, 0]])
    order = np.lexsort((second, first))
    first, second = first[order], second[order]
    degree = np.bincount(first, minlength=len(positions))
    table = np.full((len(positions), max(int(degree.max(initial=0)), 1)), -1, dtype=int)
    starts = np.concatenate([[0], np.cumsum(degree)[:-1]])
    table[first, np.arange(len(first)) - starts[first]] = second
    return table


def _coordination(table: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Number of alive neighbours of every atom."""
    return ((table >= 0) & alive[table]).sum(axis=1)


def _trim(table: np.ndarray, alive: np.ndarray) -> int:
    """Remove (in place) atoms with fewer than MIN_NEIGHBOURS alive neighbours until none is left."""
    removed = 0
    while True:
        low = alive & (_coordination(table, alive) < MIN_NEIGHBOURS)
        if not low.any():
            return removed
        alive[low] = False
        removed += int(low.sum())


def _adjust_excess(
    table: np.ndarray, alive: np.ndarray, is_cation: np.ndarray, radii: np.ndarray, target: int, symbols: dict
) -> int:
    """Remove (in place) surface atoms of the species in excess until n_cation - n_anion == target.

    See step 5 of the module docstring. Returns the number of atoms removed.
    """
    coord = _coordination(table, alive)
    excess = int(np.sum(alive & is_cation) - np.sum(alive & ~is_cation))
    need = abs(target - excess)
    pool = int(np.sum(alive & (is_cation if excess > target else ~is_cation)))
    if need >= pool and need > 0:
        raise QdotsInputError(
            f'cannot reach a cation excess of {target:+d}: the particle has a cation excess of {excess:+d} and only '
            f'{pool} {symbols["cation" if excess > target else "anion"]} atoms to remove'
        )
    removed = 0
    while excess != target:
        remove_cation = excess > target
        cand = np.flatnonzero(alive & (is_cation == remove_cation) & (coord < BULK_COORDINATION))
        nbrs = table[cand]
        valid = (nbrs >= 0) & alive[nbrs]
        weakest_neighbour = np.where(valid, coord[nbrs], np.iinfo(int).max).min(axis=1, initial=np.iinfo(int).max)
        cand = cand[weakest_neighbour > MIN_NEIGHBOURS]
        if cand.size == 0:
            kind = symbols['cation' if remove_cation else 'anion']
            raise QdotsInputError(
                f'cannot reach a cation excess of {target:+d}: stopped at {excess:+d} after removing {removed} atoms, '
                f'because no surface {kind} atom can be removed without leaving a neighbour with fewer than '
                f'{MIN_NEIGHBOURS} neighbours'
            )
        pick = cand[np.lexsort((cand, -radii[cand], coord[cand]))[0]]
        alive[pick] = False
        nbrs = table[pick]
        nbrs = nbrs[(nbrs >= 0) & alive[nbrs]]
        coord[nbrs] -= 1
        excess += -1 if remove_cation else 1
        removed += 1
    return removed


def _parse_stoichiometry(stoichiometry) -> int | None:
    """``'as-cut'`` -> None, ``'stoichiometric'`` -> 0, an integer (or integer string) -> that cation excess."""
    if isinstance(stoichiometry, bool):
        raise QdotsInputError(
            f'stoichiometry must be stoichiometric, as-cut or an integer cation excess, got {stoichiometry!r}'
        )
    if isinstance(stoichiometry, (int, np.integer)):
        return int(stoichiometry)
    text = str(stoichiometry).strip().lower().replace('_', '-')
    if text == 'stoichiometric':
        return 0
    if text in ('as-cut', 'ascut'):
        return None
    try:
        return int(text)
    except ValueError:
        raise QdotsInputError(
            f'stoichiometry must be stoichiometric, as-cut or an integer cation excess (n_Cd - n_anion), '
            f'got {stoichiometry!r}'
        ) from None


def _equivalent_diameter(n_formula_units: int, volume_per_unit: float) -> float:
    """Diameter (angstrom) of the sphere holding ``n_formula_units`` at the bulk volume per formula unit."""
    return float((6.0 * n_formula_units * volume_per_unit / math.pi) ** (1.0 / 3.0))


def build_nanocrystal(
    diameter: float,
    lattice: str = 'wurtzite',
    core: str = 'CdSe',
    shell: str | None = 'CdS',
    shell_monolayers: int = 0,
    stoichiometry: str | int = 'stoichiometric',
    centre: str = 'bond',
    vacuum: float = DEFAULT_VACUUM,
    max_atoms: int = MAX_ATOMS,
) -> Atoms:
    """Build a spherical nanocrystal of ``core`` (diameter in angstrom), optionally with a ``shell``.

    ``shell_monolayers`` monolayers of ``shell`` (same cation, other anion) surround the core;
    ``stoichiometry`` is ``'stoichiometric'``, ``'as-cut'`` or an integer cation excess ``n_Cd - n_anion``;
    ``centre`` is ``'bond'`` (default), ``'cation'`` or ``'anion'``. The recipe is given in the module
    docstring. The particle sits with its carving centre at the centre of a cubic, non-periodic box with
    at least ``vacuum`` angstrom between any atom and the box faces. Atoms are ordered Cd, core anion,
    shell anion, each by distance from the centre.

    ``atoms.info`` holds the recipe and its outcome (JSON-serialisable): the inputs, the lattice constants
    used, the monolayer thickness, counts per element, the cation excess, and the diameters measured two
    ways: ``*_diameter_equivalent`` (the sphere holding the particle's formula units at bulk density; the
    core's from its anion count) and ``*_diameter_extent`` (twice the largest anion distance from the
    centre).
    """
    lattice = normalise_lattice(lattice)
    if core not in MATERIALS:
        raise QdotsInputError(f'unknown core material {core!r}; known: {", ".join(MATERIALS)}')
    if centre not in CENTRES:
        raise QdotsInputError(f'unknown sphere centre {centre!r}; known: {", ".join(CENTRES)}')
    if isinstance(shell_monolayers, bool) or not float(shell_monolayers).is_integer():
        raise QdotsInputError(f'shell_monolayers must be a whole number, got {shell_monolayers!r}')
    shell_monolayers = int(shell_monolayers)
    if shell_monolayers < 0:
        raise QdotsInputError(f'shell_monolayers must be >= 0, got {shell_monolayers}')
    if shell_monolayers > 0:
        if shell not in MATERIALS:
            raise QdotsInputError(f'unknown shell material {shell!r}; known: {", ".join(MATERIALS)}')
        if MATERIALS[shell][0] != MATERIALS[core][0] or MATERIALS[shell][1] == MATERIALS[core][1]:
            raise QdotsInputError(f'a {shell} shell on a {core} core must share the cation and differ in the anion')
    else:
        shell = None
    target = _parse_stoichiometry(stoichiometry)
    try:
        diameter = float(diameter)
        vacuum = float(vacuum)
    except (TypeError, ValueError):
        raise QdotsInputError(f'diameter and vacuum must be numbers (angstrom), got {diameter!r}, {vacuum!r}') from None
    if not math.isfinite(diameter) or diameter <= 0:
        raise QdotsInputError(f'nanocrystal diameter must be a positive number of angstrom, got {diameter}')
    if not math.isfinite(vacuum) or vacuum < 0:
        raise QdotsInputError(f'vacuum must be a non-negative number of angstrom, got {vacuum}')

    constants = lattice_constants(core, lattice)
    cation, core_anion = MATERIALS[core]
    shell_anion = MATERIALS[shell][1] if shell else None
    cell, cation_sites, anion_sites, origin = _unit_cell(lattice, constants, centre)
    t_ml = monolayer_thickness(lattice, constants)
    r_core = diameter / 2.0
    r_out = r_core + shell_monolayers * t_ml
    cell_volume = abs(float(np.linalg.det(cell)))
    sites_per_cell = len(cation_sites) + len(anion_sites)
    estimate = 4.0 / 3.0 * math.pi * r_out**3 * sites_per_cell / cell_volume
    if estimate > max_atoms:
        raise QdotsInputError(
            f'a {2 * r_out / 10:.1f} nm particle would hold about {estimate:.0f} atoms, more than the limit of '
            f'{max_atoms}; ask for a smaller diameter or fewer shell monolayers (diameters are in angstrom here)'
        )

    cat_pos, cat_r = _lattice_sites(cell, cation_sites, origin, r_out)
    an_pos, an_r = _lattice_sites(cell, anion_sites, origin, r_out)
    positions = np.vstack([cat_pos, an_pos])
    radii = np.concatenate([cat_r, an_r])
    is_cation = np.arange(len(positions)) < len(cat_pos)
    in_core = radii <= r_core + 10.0**-_ROUND
    # species code: 0 cation, 1 core anion, 2 shell anion; index order: species, radius, generation order
    species = np.where(is_cation, 0, np.where(in_core, 1, 2))
    order = np.lexsort((radii, species))
    positions, radii, is_cation, species = positions[order], radii[order], is_cation[order], species[order]

    bonds = bond_lengths(lattice, constants)
    cutoff = BOND_CUTOFF_FACTOR * max(bonds)
    alive = np.ones(len(positions), dtype=bool)
    n_trimmed = 0
    if len(positions):
        table = _neighbour_table(positions, cutoff)
        n_trimmed = _trim(table, alive)
    if not alive.any():
        raise QdotsInputError(
            f'a {diameter} A sphere is too small to hold a particle: no atom keeps {MIN_NEIGHBOURS} neighbours '
            f'(diameters are in angstrom; a Cd-Se bond is {max(bonds):.2f} A)'
        )
    if not np.any(alive & (species == 1)):
        raise QdotsInputError(f'a {diameter} A core is too small: it holds no {core_anion} atom')
    excess_as_cut = int(np.sum(alive & is_cation) - np.sum(alive & ~is_cation))
    n_adjusted = 0
    if target is not None:
        names = {'cation': cation, 'anion': '/'.join(filter(None, [core_anion, shell_anion]))}
        n_adjusted = _adjust_excess(table, alive, is_cation, radii, target, names)

    positions, radii, species = positions[alive], radii[alive], species[alive]
    symbols_by_code = np.array([cation, core_anion, shell_anion or core_anion])
    symbols = symbols_by_code[species].tolist()
    max_radius = float(radii.max())
    side = 2.0 * (max_radius + vacuum)
    atoms = Atoms(symbols, positions=positions + side / 2.0, cell=[side, side, side], pbc=False)

    counts = {el: int(np.sum(species == code)) for code, el in enumerate([cation, core_anion, shell_anion]) if el}
    n_cation = counts[cation]
    n_anion = len(atoms) - n_cation
    units_per_cell = len(cation_sites)
    volume_per_unit = cell_volume / units_per_cell
    anion_radii = radii[species > 0]
    core_radii = radii[species == 1]
    shell_radii = radii[species == 2]
    formula = ''.join(f'{el}{n}' for el, n in counts.items())
    atoms.info.update(
        {
            'kind': 'nanocrystal',
            'composition': f'{core}/{shell}' if shell else core,
            'formula': formula,
            'lattice': lattice,
            'core': core,
            'shell': shell,
            'shell_monolayers': shell_monolayers,
            'centre': centre,
            'centre_position': [side / 2.0] * 3,
            'stoichiometry': 'as-cut' if target is None else ('stoichiometric' if target == 0 else target),
            'diameter_requested': diameter,
            'core_diameter_equivalent': _equivalent_diameter(counts[core_anion], volume_per_unit),
            'core_diameter_extent': 2.0 * float(core_radii.max()),
            'particle_diameter_equivalent': _equivalent_diameter(n_anion, volume_per_unit),
            'particle_diameter_extent': 2.0 * float(anion_radii.max()),
            'monolayer_thickness': t_ml,
            'shell_thickness_requested': shell_monolayers * t_ml,
            'shell_thickness_extent': float(shell_radii.max() - core_radii.max()) if shell else 0.0,
            'n_atoms': len(atoms),
            'counts': counts,
            'cation_excess': n_cation - n_anion,
            'cation_excess_as_cut': excess_as_cut,
            'removed_undercoordinated': int(n_trimmed),
            'removed_for_stoichiometry': int(n_adjusted),
            'lattice_constants': {'material': core, **constants},
            'lattice_source': LATTICE_SOURCES[(core, lattice)],
            'shell_bulk_lattice_constants': {'material': shell, **lattice_constants(shell, lattice)} if shell else None,
            'bond_lengths': list(bonds),
            'bond_cutoff': cutoff,
            'vacuum': vacuum,
            'length_unit': 'angstrom',
        }
    )
    return atoms


def nanocrystal_from_recipe(recipe: Mapping) -> Atoms:
    """:func:`build_nanocrystal` of the keyword arguments ``recipe``; a key it does not take is bad input."""
    known = inspect.signature(build_nanocrystal).parameters
    if unknown := sorted(set(recipe) - set(known)):
        raise QdotsInputError(f'unknown nanocrystal recipe key(s) {", ".join(unknown)}; known: {", ".join(known)}')
    return build_nanocrystal(**recipe)
