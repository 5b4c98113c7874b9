"""Code the Generating text chapter's pages compute with (docs/generating-text/)."""
