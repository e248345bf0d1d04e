"""`stillpoint library`: the offline page (``page.py`` and its template, style and script)."""
