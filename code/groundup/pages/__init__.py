"""The pages' code: what an article computes to explain, measure or plot.

This tree mirrors `docs/`: `pages/<chapter>/<page>.py` (or the package
`pages/<chapter>/<page>/` when a page needs several modules) serves
`docs/<chapter>/<page>.md`; a module at a chapter's level is shared by several of its
pages, and one directly under `pages/` by several chapters. The library
(`groundup.tokenizer`, `groundup.model`, `groundup.train`, ...) never imports from here.
"""
