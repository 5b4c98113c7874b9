"""Code for docs/transformer/output-head-and-training.md."""
