"""Blind listening tests: the reference paper's listener study as a feature.

A test is one folder (see :mod:`musestudio.listening.manifest`)::

    manifest.json      clips (opaque ids -> category, source), settings, test id
    secret.key         per-test key that signs remote results (never exported)
    clips/<id>.ogg     loudness-matched, equal-length audio
    results.sqlite     one row per answer, one transaction per answer

Modules, from the bottom up: ``manifest`` (the folder format), ``design``
(balanced, randomised clip order per participant), ``audio`` (length and
loudness matching), ``build`` (sources -> clips), ``store`` (SQLite results,
resumable sessions), ``remote`` (offline HTML page and signed results import),
``stats`` (MOS, Turing rate, intervals, tests), ``simulate`` (synthetic
listeners), ``report`` (HTML/Markdown/CSV and the paper-style table).

Nothing here imports Qt: the CLI, the GUI and the tests share it.
"""
