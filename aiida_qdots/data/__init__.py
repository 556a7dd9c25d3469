"""Measured (or synthetic) data sets that enter the studies as nodes: ultrafast electron diffraction (:mod:`.ued`)."""
