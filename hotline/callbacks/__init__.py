"""The 回访 dialer: callback tasks, their schedule, the dialer loop, outcomes."""
