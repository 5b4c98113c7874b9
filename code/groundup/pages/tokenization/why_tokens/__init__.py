"""Code for docs/tokenization/why-tokens.md."""
