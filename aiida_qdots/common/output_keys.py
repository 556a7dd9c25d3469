"""Keys of output Dicts that several modules write or read: one definition each."""

MSD_SLOPE_KEY = 'slope_A2_per_K'
"""d<u^2>/dT (angstrom^2/K; 3D mean-square displacement) in an ``msd_slope`` Dict and in its fits."""

MSD_SLOPE_STDERR_KEY = 'slope_stderr_A2_per_K'
"""Standard error of :data:`MSD_SLOPE_KEY` (angstrom^2/K)."""

MSD_SLOPE_SOURCE_KEY = 'source'
"""Where a user-given slope comes from (a ``qdots.phonons`` slope has none: its creator says it)."""

MSD_SLOPE_KEYS = (MSD_SLOPE_KEY, MSD_SLOPE_STDERR_KEY)
"""The keys every ``msd_slope`` Dict holds."""

MSD_SLOPE_WEIGHTING_KEY = 'weighting'
"""How :data:`MSD_SLOPE_KEY` averages the elements' <u^2>: 'electron_scattering' (each element by N_a <f_a(Q)^2> over
the Debye-Waller fit's Q range) or 'atoms' (each atom once); a user's slope has none."""

MSD_SLOPE_BY_WEIGHTING_KEY = 'by_weighting'
"""Every weighting's slope and standard error, keyed by the names of :data:`MSD_SLOPE_WEIGHTING_KEY`."""

BRAGG_WEIGHTING = 'bragg_peaks'
"""The :data:`MSD_SLOPE_BY_WEIGHTING_KEY` entry (and the ``msd_slope`` sub-Dict of its details) of the slope of the
du2 the Bragg-peak route reads, d(du2_Bragg)/dT: the one the Debye-Waller route of ``qdots.ued`` divides by."""

MAIN_SLOPE_KEY = 'main_slope_A2_per_K'
"""The msd_slope's main d<u^2>/dT (angstrom^2/K) in a ``lattice_temperature`` node, beside the slope its dT used."""

DT_SCALE_REL_ERR_KEY = 'scale_rel_err'
"""Relative standard error of a ``lattice_temperature`` node's dT scale, common to every delay and set, when it is not
the d<u^2>/dT's (the dG route: that of the MD dG per kelvin)."""
