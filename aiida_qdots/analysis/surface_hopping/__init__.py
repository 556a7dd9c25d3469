"""Surface hopping in the classical path approximation (CPA): DISH and FSSH over a stored Hamiltonian. NumPy
(numba when installed).

Modules: :mod:`.hamiltonian` (checks, the S0/S1 model, exact step propagators, analytic limits);
:mod:`.ensemble` (:func:`dish`, :func:`fssh`: inputs checked, backend chosen, :class:`SurfaceHoppingResult`);
:mod:`.fit` (recombination time with a bootstrap interval); :mod:`.random_numbers` (counter-based draws). DISH and
FSSH share one set of kernels: the per-realisation loop in :mod:`._kernels` (numba-compiled, or interpreted as the
plain-Python reference) and the same steps vectorised over realisations in :mod:`._vectorised` (NumPy).

Units: energies in eV, times in fs, NACs in 1/fs, temperature in K, hbar = 0.6582119569 eV fs.

**Hamiltonian.** Energies ``E_i(t)`` (T, n) at the MD frames and NACs ``d_ij`` (T-1, n, n) (real, antisymmetric,
at the interval midpoints; :mod:`aiida_qdots.analysis.nac`). For the S0/S1 recombination model
(:func:`two_state_model`), ``E_0 = 0`` (ground state), ``E_1 = gap(t)`` (the HOMO->LUMO excitation) and
``d_01`` the HOMO-LUMO NAC. In the CPA the nuclei follow the stored trajectory whatever the electrons do. On MD
interval k the Hamiltonian is constant, ``H = diag(E) - i hbar d`` with E linearly interpolated at the midpoint
of each of ``substeps`` sub-steps, and the step propagator ``U_k = exp(-i H dt / hbar)`` is exact for it: closed
form for two states (:func:`propagator_2x2`), eigendecomposition for more. Longer runs iterate the stored
trajectory modulo its length: step s of a realisation started at interval k0 uses interval ``(k0 + s) mod (T-1)``.
Realisations start at several initial times (intervals ``k0``) and share their Hamiltonian; they differ by their
random numbers.

**DISH rules implemented** (Jaeger, Fischer & Prezhdo, J. Chem. Phys. 137, 22A545 (2012), in the CPA):

1. The amplitudes c evolve coherently, ``c <- U_k c``, every step; the active state does not change in between.
2. Each state i has a decoherence clock t_i (time since its coherences were last destroyed) and a decoherence
   time ``tau_i = 1 / sum_{j != i} |c_j|^2 / tau_ij``, with tau_ij the pure-dephasing time of the pair (from the
   dephasing analysis of the gap E_i - E_j; constant along the run; infinite = no decoherence).
3. After each step every clock advances by dt; state i decoheres when ``t_i >= tau_i``. At most one event per step:
   the state with the largest t_i / tau_i.
4. Event on state i: with probability |c_i|^2 it is *projected in* (c collapses onto state i); otherwise it is
   *projected out* (c_i = 0, c renormalised, t_i = 0).
5. Hops happen only at events: projected in onto i != active -> attempt a hop to i; active state projected out ->
   attempt a hop to a state j drawn with probability |c_j|^2 / (1 - |c_i|^2).
6. Detailed balance in the CPA (no velocities to rescale): hops down in energy are accepted, hops up by dE are
   accepted with probability exp(-dE / k_B T) (energies of the step's midpoint; all accepted when
   ``temperature_k`` is None, none when it is 0). A rejected hop collapses c onto the active state.
7. Whenever c is left in a single state (collapse, or only one non-zero amplitude) all clocks restart at 0.

**FSSH** (Tully, J. Chem. Phys. 93, 1061 (1990)) with the same inputs, as the reference method: c evolves
coherently without decoherence; after each step the active state a hops with probability
``g = max(0, -dP_a / P_a)``, dP the exact population change over the step under the exact propagator (Tully's
fewest switches for two states; the global-flux form for more, Wang, Trivedi & Prezhdo, JCTC 10, 3598 (2014)),
to a state j with dP_j > 0 drawn with probability proportional to dP_j; upward hops are accepted with the
Boltzmann factor as in rule 6; rejected (frustrated) hops leave c unchanged.

**Random numbers.** Counter-based (splitmix64 of a per-realisation key and the counter 4 s + slot + 1): a
realisation's result does not depend on the backend, the thread count or the other realisations, so the NumPy,
numba and plain-Python backends give the same hops.

**Recombination time** (:func:`fit_recombination`): the population of the initial state over realisations,
``P(t)``, is fitted by ``exp(-t/tau)`` (least squares over all recorded times; for two states this is
``P_0 = 1 - exp(-t/tau)``); the confidence interval is the percentile interval of a two-stage bootstrap
(initial times with replacement, then realisations within each drawn initial time).

**Analytic limits** for a constant two-state Hamiltonian (gap dE, coupling V = hbar d) with decoherence events
every tau (the DISH clock), to lowest order in V: the hop probability per interval is
``4 V^2 sin^2(dE tau / 2 hbar) / dE^2`` (:func:`fixed_interval_rate`), so the rate is ``V^2 tau / hbar^2`` in the
quantum-Zeno regime dE tau / hbar << 1 (:func:`zeno_rate`; faster decoherence, slower transfer) and
``2 V^2 / (dE^2 tau)`` in the golden-rule regime dE tau / hbar >> 1 with gap fluctuations that randomise the
phase (:func:`golden_rule_rate`: Fermi's golden rule with the Lorentzian line of half-width hbar/tau that the
decoherence gives, in its wing).
"""

from aiida_qdots.analysis.surface_hopping.ensemble import (
    BACKENDS,
    RECORD_POINTS,
    SurfaceHoppingResult,
    check_population_conservation,
    dish,
    fssh,
    initial_intervals,
)
from aiida_qdots.analysis.surface_hopping.fit import RecombinationFit, fit_decay_rate, fit_recombination
from aiida_qdots.analysis.surface_hopping.hamiltonian import (
    check_hamiltonian,
    fixed_interval_rate,
    golden_rule_rate,
    propagator_2x2,
    rabi_population,
    step_propagators,
    two_state_model,
    zeno_rate,
)
from aiida_qdots.analysis.surface_hopping.random_numbers import realisation_keys

__all__ = [
    'BACKENDS',
    'RECORD_POINTS',
    'RecombinationFit',
    'SurfaceHoppingResult',
    'check_hamiltonian',
    'check_population_conservation',
    'dish',
    'fit_decay_rate',
    'fit_recombination',
    'fixed_interval_rate',
    'fssh',
    'golden_rule_rate',
    'initial_intervals',
    'propagator_2x2',
    'rabi_population',
    'realisation_keys',
    'step_propagators',
    'two_state_model',
    'zeno_rate',
]
