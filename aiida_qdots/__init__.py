"""aiida-qdots: AiiDA workflows and a provenance database for CdSe quantum-dot simulation studies."""

__version__ = '0.1.0'
