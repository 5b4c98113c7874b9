"""Code for docs/transformer/residuals-and-norms.md."""
