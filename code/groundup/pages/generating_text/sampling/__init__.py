"""Code for docs/generating-text/sampling.md."""
