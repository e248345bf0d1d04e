"""Stage 6: the sounds the timeline places (speech, bells, tones, beds), mixed in blocks and
mastered to a loudness target."""
