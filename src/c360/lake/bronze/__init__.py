"""Bronze: every source record as landed (plus lineage columns), or in quarantine with a reason."""
