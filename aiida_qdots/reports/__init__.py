"""Reports that put a study's stored results beside the seed papers' numbers (markdown + figures)."""
