"""`stillpoint batch`: many personalised sessions from a manifest, sharing their work.

``manifest.py`` reads and checks the rows; ``plan.py`` prepares every row without audio and
gathers the speech they need; ``engines.py`` makes the missing clips once and renders the rows in
warm worker processes (a local pool, or a Ray cluster); ``report.py`` keeps what each row did and
what it was made from, so a batch run again skips what is done.
"""
