"""Code for docs/tokenization/quirks.md."""
