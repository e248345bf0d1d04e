"""The vocabulary every stage shares: lengths of time, sample arrays, text shown to people."""
