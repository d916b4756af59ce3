"""The query model both the SCIM protocol and the stores speak.

The resource schemas (``schema``), attribute paths into them (``paths``), filters (``filter``) and
a search with its page of results (``pages``). It imports only ``domain`` and ``errors``: ``scim/``
parses requests into it and ``store/`` answers it, and neither needs the other (docs/architecture.md).
"""
