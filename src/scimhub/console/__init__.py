"""The administrator's console: server-rendered pages over the same use cases as the JSON API (issue 13)."""
