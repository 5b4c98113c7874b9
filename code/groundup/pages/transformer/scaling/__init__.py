"""Code for docs/transformer/scaling.md."""
