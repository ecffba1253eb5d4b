"""API models, one module per resource: ``XCreate`` (request body), ``XPublic`` (response).

Request bodies forbid unknown fields, so a misspelt field is a 422, not silently lost.
Later additions to a resource (pupils, grades, staff) go in as optional fields.
"""
