"""Stage 5: cues placed at exact sample positions, and the stretch that meets a length asked for."""
