"""Pure file formats (no AiiDA import): one module per format family."""
