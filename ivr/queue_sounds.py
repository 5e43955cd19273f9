"""The sounds Asterisk's queue plays to a waiting caller, in the callers' language.

    needed = queue_sounds(read queues.conf [hotline], "zh")   # ["zh/queue-thereare", …, "zh/digits/1", …]

app_queue (say_position) plays its own sound names, looked up in Asterisk's `sounds/<language>`
folder of the caller's channel language, and says numbers with main/say.c in that language's
syntax. For "zh" (ast_say_number_full_zh) a number is made of digits/0–9, the tens digits/10 …
digits/90, digits/hundred, digits/thousand, and digits/wan above 9999 (digits/0 is the 零 inside
a number, e.g. 105 = 1 hundred 0 5). The texts are in ivr/prompts.toml as `["zh/<sound>"]`.

The order is Asterisk's, not ours: position N (N ≥ 2) is queue-thereare, N, queue-callswaiting
("您现在排在第" 3 "位"); position 1 is queue-youarenext; the hold time is queue-holdtime, N,
queue-minute(s), [N, queue-seconds]; then queue-thankyou.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGE = "zh"  # Asterisk's code for Chinese: say.c's Chinese number syntax and the sounds/zh folder

# say.c's Chinese numbers up to 99 999 999 (a queue position or minutes never get near)
NUMBER_SOUNDS = (
    *(f"digits/{n}" for n in range(10)),
    *(f"digits/{n}" for n in range(10, 100, 10)),
    "digits/hundred",
    "digits/thousand",
    "digits/wan",
)
POSITION_SOUNDS = ("queue-youarenext", "queue-thereare", "queue-callswaiting")
HOLDTIME_SOUNDS = ("queue-holdtime", "queue-minute", "queue-minutes", "queue-seconds", "queue-less-than")
THANKS = "queue-thankyou"


def _on(options: Mapping[str, str], key: str) -> bool:
    return options.get(key, "no").strip().lower() not in ("no", "0", "false", "off", "")


def queue_sounds(options: Mapping[str, str], language: str = LANGUAGE) -> list[str]:
    """The prompt names (language/sound) a caller may hear while waiting, for one queue's options
    (queues.conf keys → last value). A sound the queue names by path (queue-thereare = /x/y) is the
    centre's own file and not listed. Empty when the queue announces nothing."""
    frequency = options.get("announce-frequency", "0").strip()
    if not frequency.isdigit() or int(frequency) == 0:
        return []
    sounds: list[str] = []
    if _on(options, "announce-position"):
        sounds += POSITION_SOUNDS
    if _on(options, "announce-holdtime"):
        sounds += HOLDTIME_SOUNDS
    if not sounds:
        return []
    sounds += [THANKS, *NUMBER_SOUNDS]
    return [f"{language}/{s}" for s in sounds if not options.get(s, "").strip().startswith("/")]
