"""Kinetic models of photoexcited nanocrystals (Auger heating, hot-hole trapping): Gillespie SSA and master equation.

Model (per nanocrystal). Absorption creates N0 electron-hole pairs, Poisson with mean
<N> = sigma * fluence / (h nu). Each pair starts *hot*: its excess energy E_ph - E_gap is dissipated into the
lattice when its hot hole either cools (time ``tau_cool_ps``) or is trapped at the surface (``tau_trap_ps``;
infinite = no trapping). Cooled pairs are *free*; trapped pairs take no further part (no Auger, no emission
within the model's window). Free pairs decay by

* Auger recombination, rate c (c - 1) / 2 / tau_AR for c free pairs: one pair recombines and its energy E_gap
  goes to a hot carrier that cools into the lattice;
* radiative recombination, rate c / tau_rad: the energy leaves as a photon.

Every event's energy is recorded, so the deposited lattice energy is a sum of event energies (exactly), and
dT = E / C with the particle's heat capacity C = 3 N_atoms k_B (Dulong-Petit; CdSe is near it at 300 K).
Energy conservation: N0 E_ph = E_lattice + E_gap (n_radiative + n_trapped + c_remaining).

:func:`gillespie` runs many trajectories at once (NumPy over trajectories, one event per active trajectory per
sweep); :func:`master_equation` integrates the exact master equation over (hot, free) states, whose mean
deposited energy is what the fits use (smooth in the parameters). Times in ps (UED delays), energies in eV,
temperatures in K.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import linalg, stats

from aiida_qdots.common.units import HC_EV_NM, KB_EV_K, MJ_EV

CDSE_ATOM_DENSITY = 4 / (np.sqrt(3) / 2 * 4.30**2 * 7.01)
"""Atoms per angstrom^3 of wurtzite CdSe (a = 4.30, c = 7.01 A, 4 atoms per cell)."""

POISSON_TAIL = 1e-10
"""Initial numbers N0 with Poisson probability below this are left out of the master equation."""


@dataclasses.dataclass(frozen=True)
class KineticModel:
    """Parameters of the Auger-heating / hot-hole-trapping model (times in ps, energies in eV, sigma in cm^2)."""

    tau_auger_ps: float = 625.0
    tau_radiative_ps: float = 20000.0
    tau_cool_ps: float = 0.5
    tau_trap_ps: float = np.inf
    gap_ev: float = 2.0
    wavelength_nm: float = 400.0
    sigma_cm2: float = 3.0e-15
    diameter_nm: float = 5.0

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
    def heat_capacity_ev_k(self) -> float:
        """Dulong-Petit heat capacity 3 N k_B (eV/K) of a CdSe sphere of ``diameter_nm``."""
        radius_a = 5.0 * self.diameter_nm
        return 3.0 * KB_EV_K * CDSE_ATOM_DENSITY * 4.0 / 3.0 * np.pi * radius_a**3

    def mean_pairs(self, fluence_mj_cm2: float) -> float:
        """<N> = sigma * fluence / (h nu): mean number of absorbed photons per particle."""
        return mean_initial_pairs(self.sigma_cm2, fluence_mj_cm2, self.wavelength_nm)


def mean_initial_pairs(sigma_cm2: float, fluence_mj_cm2: float, wavelength_nm: float) -> float:
    """<N> = sigma (cm^2) * fluence (mJ/cm^2) / photon energy: absorbed photons per particle."""
    if fluence_mj_cm2 < 0:
        raise ValueError(f'fluence must be non-negative, got {fluence_mj_cm2}')
    return sigma_cm2 * fluence_mj_cm2 * MJ_EV / (HC_EV_NM / wavelength_nm)


@dataclasses.dataclass
class SsaResult:
    """Events of all trajectories of :func:`gillespie`: ``event_time_ps``, ``event_energy_ev``, ``event_kind``
    (0 cooling, 1 trapping, 2 Auger, 3 radiative) and ``event_trajectory``; per trajectory ``n0`` and the final
    ``hot``, ``free``, ``trapped`` counts; ``n_events`` in total.
    """

    n0: np.ndarray
    event_time_ps: np.ndarray
    event_energy_ev: np.ndarray
    event_kind: np.ndarray
    event_trajectory: np.ndarray
    hot: np.ndarray
    free: np.ndarray
    trapped: np.ndarray
    t_max_ps: float

    @property
    def n_events(self) -> int:
        return int(self.event_time_ps.size)

    def deposited_energy(self) -> np.ndarray:
        """Total lattice energy (eV) per trajectory up to ``t_max_ps``."""
        return np.bincount(self.event_trajectory, weights=self.event_energy_ev, minlength=self.n0.size)

    def mean_energy(self, time_ps) -> np.ndarray:
        """Mean deposited energy (eV) over trajectories at ``time_ps``: one cumulative sum over all sorted events."""
        order = np.argsort(self.event_time_ps, kind='stable')
        cumulative = np.concatenate([[0.0], np.cumsum(self.event_energy_ev[order])])
        return cumulative[np.searchsorted(self.event_time_ps[order], time_ps, side='right')] / self.n0.size

    def mean_free_pairs(self, time_ps) -> np.ndarray:
        """Mean number of free (cooled, untrapped) pairs at ``time_ps``."""
        change = np.select([self.event_kind == 0, self.event_kind >= 2], [1.0, -1.0], 0.0)
        order = np.argsort(self.event_time_ps, kind='stable')
        cumulative = np.concatenate([[0.0], np.cumsum(change[order])])
        return cumulative[np.searchsorted(self.event_time_ps[order], time_ps, side='right')] / self.n0.size


def gillespie(
    model: KineticModel,
    fluence_mj_cm2: float,
    n_trajectories: int,
    t_max_ps: float,
    seed: int = 0,
    n0: np.ndarray | None = None,
    hot_start: bool = True,
) -> SsaResult:
    """Gillespie SSA of ``n_trajectories`` particles up to ``t_max_ps``, vectorised over trajectories.

    Initial pairs are Poisson(<N>) unless ``n0`` is given; ``hot_start=False`` starts every pair free (no cooling
    or trapping stage, no excess-energy events: the pure Auger + radiative chain of :func:`master_equation`).
    """
    rng = np.random.default_rng(seed)
    if n0 is None:
        n0 = rng.poisson(model.mean_pairs(fluence_mj_cm2), size=n_trajectories)
    n0 = np.asarray(n0, dtype=np.int64)
    hot = n0.copy() if hot_start else np.zeros_like(n0)
    free = np.zeros_like(n0) if hot_start else n0.copy()
    trapped = np.zeros_like(n0)
    time = np.zeros(n0.size)
    k_cool, k_trap = 1.0 / model.tau_cool_ps, 1.0 / model.tau_trap_ps
    k_auger, k_rad = 0.5 / model.tau_auger_ps, 1.0 / model.tau_radiative_ps
    energies = np.array([model.excess_ev, model.excess_ev, model.gap_ev, 0.0])
    events: list[tuple[np.ndarray, ...]] = []
    active = np.flatnonzero(n0 > 0)
    while active.size:
        h, c = hot[active], free[active]
        rates = np.stack([h * k_cool, h * k_trap, c * (c - 1) * k_auger, c * k_rad], axis=1)
        total = rates.sum(axis=1)
        alive = total > 0
        active, rates, total = active[alive], rates[alive], total[alive]
        if not active.size:
            break
        time[active] += rng.exponential(1.0, active.size) / total
        inside = time[active] <= t_max_ps
        active, rates, total = active[inside], rates[inside], total[inside]
        threshold = rng.random(active.size) * total
        kind = (np.cumsum(rates, axis=1) < threshold[:, None]).sum(axis=1)
        kind = np.minimum(kind, 3)
        hot[active] -= kind <= 1
        free[active] += (kind == 0).astype(np.int64) - (kind >= 2)
        trapped[active] += kind == 1
        events.append((time[active], energies[kind], kind, active))
    if events:
        columns = [np.concatenate(column) for column in zip(*events, strict=True)]
    else:
        columns = [np.empty(0), np.empty(0), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)]
    return SsaResult(
        n0=n0,
        event_time_ps=columns[0],
        event_energy_ev=columns[1],
        event_kind=columns[2].astype(np.int64),
        event_trajectory=columns[3].astype(np.int64),
        hot=hot,
        free=free,
        trapped=trapped,
        t_max_ps=float(t_max_ps),
    )


def _max_pairs(mean: float) -> int:
    return int(stats.poisson.isf(POISSON_TAIL, mean)) + 1 if mean > 0 else 0


def master_equation(
    model: KineticModel, fluence_mj_cm2: float, time_ps, hot_start: bool = True, n_max: int | None = None
) -> dict[str, np.ndarray]:
    """Exact mean deposited energy (eV), dT (K) and mean free pairs at ``time_ps`` from the master equation.

    States are (hot h, free c) with h + c <= n_max; the generator Q is augmented by the energy flux of each state
    so that one matrix exponential per time interval propagates probabilities and deposited energy together.
    """
    time_ps = np.asarray(time_ps, dtype=float)
    if np.any(np.diff(time_ps) < 0) or np.any(time_ps < 0):
        raise ValueError('times must be non-negative and increasing')
    mean = model.mean_pairs(fluence_mj_cm2)
    n_max = _max_pairs(mean) if n_max is None else n_max
    states = [(h, c) for h in range(n_max + 1) for c in range(n_max + 1 - h)]
    index = {state: k for k, state in enumerate(states)}
    size = len(states)
    generator = np.zeros((size + 1, size + 1))
    k_cool, k_trap = 1.0 / model.tau_cool_ps, 1.0 / model.tau_trap_ps
    for (h, c), k in index.items():
        moves = [
            ((h - 1, c + 1), h * k_cool, model.excess_ev),
            ((h - 1, c), h * k_trap, model.excess_ev),
            ((h, c - 1), c * (c - 1) / 2 / model.tau_auger_ps, model.gap_ev),
            ((h, c - 1), c / model.tau_radiative_ps, 0.0),
        ]
        for target, rate, energy in moves:
            if rate > 0:
                generator[index[target], k] += rate
                generator[k, k] -= rate
                generator[size, k] += rate * energy
    probability = np.zeros(size + 1)
    weights = stats.poisson.pmf(np.arange(n_max + 1), mean)
    for n, w in enumerate(weights):
        probability[index[(n, 0) if hot_start else (0, n)]] += w
    free_count = np.array([c for _, c in states], dtype=float)
    out_energy, out_free = np.empty(time_ps.size), np.empty(time_ps.size)
    propagators: dict[float, np.ndarray] = {}  # delay grids are often evenly spaced: one expm per distinct step
    previous = 0.0
    for i, t in enumerate(time_ps):
        if t > previous:
            step = round(t - previous, 9)
            if step not in propagators:
                propagators[step] = linalg.expm(generator * step)
            probability = propagators[step] @ probability
            previous = t
        out_energy[i] = probability[size]
        out_free[i] = probability[:size] @ free_count
    return {
        'energy_ev': out_energy,
        'delta_t_k': out_energy / model.heat_capacity_ev_k,
        'free_pairs': out_free,
        'n_max': np.array(n_max),
    }


def lattice_temperature_rise(model: KineticModel, fluence_mj_cm2: float, time_ps) -> np.ndarray:
    """dT(t) (K) of the model: mean deposited energy / heat capacity, from :func:`master_equation`."""
    return master_equation(model, fluence_mj_cm2, time_ps)['delta_t_k']


FITTABLE = ('tau_auger_ps', 'tau_trap_ps', 'tau_cool_ps', 'sigma_cm2')


@dataclasses.dataclass
class HeatingFit:
    """Least-squares fit of the model's dT(t) to measured dT: ``values`` and ``ci`` (low, high) at ``confidence``
    of the ``free`` parameters (fitted in log space; intervals from the Jacobian covariance scaled by the reduced
    chi^2 when it exceeds 1), ``chi2_reduced``, the fitted ``model`` and its curve ``fitted_k`` on the data times.
    """

    free: tuple[str, ...]
    values: dict[str, float]
    ci: dict[str, tuple[float, float]]
    confidence: float
    chi2_reduced: float
    model: KineticModel
    fitted_k: np.ndarray
    n_evaluations: int
    success: bool
    message: str


def fit_lattice_heating(
    time_ps,
    delta_t_k,
    delta_t_err_k,
    fluence_mj_cm2: float,
    model: KineticModel,
    free: tuple[str, ...] = ('tau_auger_ps', 'sigma_cm2'),
    confidence: float = 0.95,
) -> HeatingFit:
    """Fit the ``free`` parameters of ``model`` (starting values) to dT(t) (K) with errors, by the master equation."""
    from scipy.optimize import least_squares

    unknown = [name for name in free if name not in FITTABLE]
    if unknown or not free:
        raise ValueError(f'free parameters must be among {FITTABLE}, got {free}')
    time_ps, delta_t_k, error = (np.asarray(a, dtype=float) for a in (time_ps, delta_t_k, delta_t_err_k))
    if np.any(error <= 0) or time_ps.size <= len(free):
        raise ValueError('need positive errors and more data points than free parameters')
    order = np.argsort(time_ps)
    after = time_ps[order] >= 0
    t, y, e = time_ps[order][after], delta_t_k[order][after], error[order][after]
    start = np.log([getattr(model, name) for name in free])

    def curve(log_values):
        trial = dataclasses.replace(model, **dict(zip(free, np.exp(log_values), strict=True)))
        return lattice_temperature_rise(trial, fluence_mj_cm2, t)

    result = least_squares(lambda p: (curve(p) - y) / e, start, x_scale=1.0, diff_step=1e-4)
    dof = max(t.size - len(free), 1)
    chi2 = float(result.fun @ result.fun / dof)
    covariance = np.linalg.pinv(result.jac.T @ result.jac) * max(chi2, 1.0)
    z = stats.norm.ppf(0.5 + confidence / 2)
    sigma = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    values = dict(zip(free, np.exp(result.x).tolist(), strict=True))
    ci = {
        name: (float(np.exp(x - z * s)), float(np.exp(x + z * s)))
        for name, x, s in zip(free, result.x, sigma, strict=True)
    }
    fitted_model = dataclasses.replace(model, **values)
    fitted = np.full(time_ps.size, np.nan)
    fitted[order[after]] = curve(result.x)
    return HeatingFit(
        free=tuple(free),
        values=values,
        ci=ci,
        confidence=confidence,
        chi2_reduced=chi2,
        model=fitted_model,
        fitted_k=fitted,
        n_evaluations=int(result.nfev),
        success=bool(result.success),
        message=str(result.message),
    )
