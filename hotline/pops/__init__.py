"""Screen pops (弹屏): what a seat's page shows when a citizen's call rings there.

model.py    the pop as pure data: built from a call snapshot, the caller's history and the last callback
current.py  the current pop per seat (in-process, or a Redis key per seat), so a reloaded page gets it again
history.py  what a pop needs from the ticket store (History), and stand-ins for tests and benchmarks
service.py  PopService: call snapshots from the bus -> pops on the bus (TOPIC_POP), one seat at a time
"""
