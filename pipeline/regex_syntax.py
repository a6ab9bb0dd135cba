"""Python's regular-expression parser, which the standard library keeps private (`re._parser`, `re._constants`):
the one module that reads a pattern's syntax tree. The taxonomy bounds a pattern's backtracking with it, the
lexicon finds the literals every match must contain. `tests/test_regex_syntax.py` fails loudly if a Python
release changes the tree's shape.
"""
from __future__ import annotations

from re import _constants as ops  # noqa: F401  (the node kinds: LITERAL, BRANCH, SUBPATTERN, MAX_REPEAT, ...)
from re import _parser


def parse(pattern: str):
    """The pattern's syntax tree: a sequence of (op, argument) items, ops from `ops`."""
    return _parser.parse(pattern)
