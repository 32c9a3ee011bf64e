"""Data sources, preprocessing and on-disk token caches."""
