"""The studies' figures from stored nodes, one module per stage (:mod:`.aimd`, ...); shared pieces in :mod:`.common`."""
