"""Data access: keyword-only functions per resource, taking a Session or a Connection.

Functions that change data commit before returning, so a 201 is only ever sent for
something that is durably stored.
"""
