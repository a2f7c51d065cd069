"""Agency schema: the encounter log, follow-ups and disclosure log (built in the encounters issue)."""
