"""Code for docs/transformer/why-transformers.md."""
