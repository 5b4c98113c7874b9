"""Code the Tokenization chapter's pages compute with (docs/tokenization/)."""
