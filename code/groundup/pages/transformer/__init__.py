"""Code the Transformer chapter's pages compute with (docs/transformer/)."""
