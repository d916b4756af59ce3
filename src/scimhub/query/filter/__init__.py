"""SCIM filters (RFC 7644 §3.4.2.2): the tree, its parser and its evaluation in Python.

``store/sql/filters.py`` compiles the same tree (``tree``) to SQL.
"""
