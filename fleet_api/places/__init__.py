"""Canonical places: countries' administrative divisions shipped as data.

``data/<CC>.json`` holds one country: its municipalities (and Latvia's state cities), the
regions they belong to (Latvia: planning regions and NUTS 3 statistical regions), each
with its official names and codes, validity dates and successor, and the sources and
date the file was compiled from. :mod:`.catalogue` reads these files,
:mod:`.matching` maps free text ("Rezekne", "Vidzemes reģions") to a place or says it
cannot, :mod:`.official_files` reads the official CSP file and this project's CSV for
other countries. The database copy lives in ``places`` (``store/places.py``); schools
refer to it by code.
"""
