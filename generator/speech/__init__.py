"""Stage 4: the voices, the pronunciation lexicon, and clips synthesised once into a cache."""
