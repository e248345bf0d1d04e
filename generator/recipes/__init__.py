"""Stage 1: what to render. Recipes, settings and their overrides, the user's config, programs
of days, and the catalogue of scripts folders they are found in."""
