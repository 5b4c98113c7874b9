"""Code for docs/transformer/embeddings.md."""
