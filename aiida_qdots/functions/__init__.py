"""Calcfunctions: every derived node (built clusters, analysis results) gets a creator in the provenance graph."""
