"""Text people type for others to read (organization names, build descriptions).

Bidirectional control characters are dropped when it is stored: one in an organization's
name would reverse the text around it wherever the name is shown ("you are owner" read as
"renwo era uoy"). Names already stored are shown inside <bdi> too.
"""

import re

# ALM, LRM, RLM; the embeddings and overrides LRE..RLO; the isolates LRI..PDI.
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def without_bidi_controls(text: str) -> str:
    return _BIDI_CONTROLS.sub("", text)
