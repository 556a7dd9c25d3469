"""Parameters and rate constants of the Auger-heating / hot-hole-trapping model (the physics:
:mod:`aiida_qdots.analysis.kinetics`). Times in ps, energies in eV, sigma in cm^2."""

from __future__ import annotations

import dataclasses
import typing

import numpy as np

from aiida_qdots.common.units import HC_EV_NM, KB_EV_K, MJ_EV

CDSE_ATOM_DENSITY = 4 / (np.sqrt(3) / 2 * 4.30**2 * 7.01)
"""Atoms per angstrom^3 of wurtzite CdSe (a = 4.30, c = 7.01 A, 4 atoms per cell)."""

EVENT_KINDS = ('cooling', 'trapping', 'auger', 'radiative', 'auger_trapping')
"""Event codes 0-4 of the SSA: hot hole cools (pair -> free), hot hole traps (pair -> trapped), Auger with the
energy relaxing (one free pair recombines), radiative recombination, Auger whose hot hole traps (one free pair
recombines, one is trapped)."""

FREE_CHANGE = np.array([1, 0, -1, -1, -2])
"""Change of the free-pair count by an event of each kind (:data:`EVENT_KINDS`)."""
TRAPPED_CHANGE = np.array([0, 1, 0, 0, 1])
"""Change of the trapped-pair count by an event of each kind."""


class Rates(typing.NamedTuple):
    """Rate constants (1/ps) of :class:`KineticModel`: per hot pair ``cool`` and ``trap``; Auger ``pair`` so that
    the Auger rate is c (c - 1) ``pair``; ``auger_trapping`` the probability that an Auger event traps its hot hole;
    per free pair ``radiative``."""

    cool: float
    trap: float
    pair: float
    auger_trapping: float
    radiative: float


@dataclasses.dataclass(frozen=True)
class KineticModel:
    """Parameters of the Auger-heating / hot-hole-trapping model (times in ps, energies in eV, sigma in cm^2).

    ``hole_excess_fraction``: share of the photon's excess energy taken by the hole, m_e / (m_e + m_h) for
    parabolic bands (0.22 for CdSe with m_e = 0.13, m_h = 0.45 m_0). ``trap_barrier_ev``: a hot hole traps only
    when its excess energy is above it (0: every hot hole may trap, when ``tau_trap_ps`` is finite).
    ``auger_hole_fraction``: share of Auger events that make a hot hole instead of a hot electron (0: none).
    ``n_atoms``: atoms of the particle, whose heat capacity is 3 ``n_atoms`` k_B (0: a CdSe sphere of
    ``diameter_nm``).
    """

    tau_auger_ps: float = 625.0
    tau_radiative_ps: float = 20000.0
    tau_cool_ps: float = 0.5
    tau_trap_ps: float = np.inf
    gap_ev: float = 2.0
    wavelength_nm: float = 400.0
    sigma_cm2: float = 3.0e-15
    diameter_nm: float = 5.0
    trap_barrier_ev: float = 0.0
    hole_excess_fraction: float = 0.22
    auger_hole_fraction: float = 0.0
    n_atoms: int = 0

    def __post_init__(self):
        for name in (
            'tau_auger_ps',
            'tau_radiative_ps',
            'tau_cool_ps',
            'tau_trap_ps',
            'gap_ev',
            'wavelength_nm',
            'sigma_cm2',
            'diameter_nm',
        ):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f'{name} must be positive, got {value!r}')
        if not self.n_atoms >= 0:
            raise ValueError(f'n_atoms must be non-negative, got {self.n_atoms!r}')
        if not self.trap_barrier_ev >= 0:
            raise ValueError(f'trap_barrier_ev must be non-negative, got {self.trap_barrier_ev!r}')
        for name in ('hole_excess_fraction', 'auger_hole_fraction'):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f'{name} must be within [0, 1], got {getattr(self, name)!r}')
        if self.photon_ev <= self.gap_ev:
            raise ValueError(
                f'photon energy {self.photon_ev:.3f} eV ({self.wavelength_nm} nm) is below the gap '
                f'{self.gap_ev} eV: nothing is absorbed'
            )

    @property
    def photon_ev(self) -> float:
        return HC_EV_NM / self.wavelength_nm

    @property
    def excess_ev(self) -> float:
        """Energy each pair deposits when its hot carriers relax (E_ph - E_gap, eV)."""
        return self.photon_ev - self.gap_ev

    @property
    def hole_excess_ev(self) -> float:
        """Excess energy of a photoexcited hot hole (eV): ``hole_excess_fraction`` of E_ph - E_gap."""
        return self.hole_excess_fraction * self.excess_ev

    @property
    def heat_capacity_ev_k(self) -> float:
        """Dulong-Petit heat capacity 3 N k_B (eV/K): N = ``n_atoms``, or the atoms of a CdSe sphere of
        ``diameter_nm`` when ``n_atoms`` is 0."""
        atoms = self.n_atoms or CDSE_ATOM_DENSITY * 4.0 / 3.0 * np.pi * (5.0 * self.diameter_nm) ** 3
        return 3.0 * KB_EV_K * atoms

    @property
    def kind_energy_ev(self) -> np.ndarray:
        """Lattice energy (eV) deposited by an event of each of :data:`EVENT_KINDS`."""
        return np.array([self.excess_ev, self.excess_ev, self.gap_ev, 0.0, self.gap_ev])

    def rates(self) -> Rates:
        """The rate constants with the trapping barrier applied (photoexcited holes: ``hole_excess_ev``; Auger
        holes: E_gap)."""
        trap = 1.0 / self.tau_trap_ps
        cool = 1.0 / self.tau_cool_ps
        auger_trapping = self.auger_hole_fraction * trap / (trap + cool) if self.gap_ev > self.trap_barrier_ev else 0.0
        return Rates(
            cool=cool,
            trap=trap if self.hole_excess_ev > self.trap_barrier_ev else 0.0,
            pair=0.5 / self.tau_auger_ps,
            auger_trapping=auger_trapping,
            radiative=1.0 / self.tau_radiative_ps,
        )

    def mean_pairs(self, fluence_mj_cm2: float) -> float:
        """<N> = sigma * fluence / (h nu): mean number of absorbed photons per particle."""
        return mean_initial_pairs(self.sigma_cm2, fluence_mj_cm2, self.wavelength_nm)


def mean_initial_pairs(sigma_cm2: float, fluence_mj_cm2: float, wavelength_nm: float) -> float:
    """<N> = sigma (cm^2) * fluence (mJ/cm^2) / photon energy: absorbed photons per particle."""
    if fluence_mj_cm2 < 0:
        raise ValueError(f'fluence must be non-negative, got {fluence_mj_cm2}')
    return sigma_cm2 * fluence_mj_cm2 * MJ_EV / (HC_EV_NM / wavelength_nm)
