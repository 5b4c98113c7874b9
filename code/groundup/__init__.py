"""Ground Up: how large language models work, from bytes to post-training.

Every module here is taught on the site; the code shown in an article is a
named section of one of these files.
"""

__version__ = "0.1.0"
