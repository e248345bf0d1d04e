"""Stage 7: the files a render leaves: the MP3 with its tags, chapters, cover and record, the
timeline JSON, transcripts and playlists; checked before any work, renamed into place together."""
