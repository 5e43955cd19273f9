"""Floor statistics for team leaders: counted from calls and misses, live and per day."""
