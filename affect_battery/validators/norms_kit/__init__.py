"""The human norming kit: build a counterbalanced study of static pages (or Label Studio tasks),
and ingest the responses as ``rater_type: human`` ratings kept apart from the machine norms.

``study`` deals the lists, ``page`` renders one list as an offline HTML page, ``label_studio``
writes and reads Label Studio files, ``responses`` validates response files and turns them into
ratings, ``tables`` renders the human-beside-machine norms table. See ``data/norms/PROTOCOL.md``.
"""
