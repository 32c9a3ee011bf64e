"""musestudio: continue piano music with neural models, and turn piano audio into notes."""

__version__ = "0.1.0"
