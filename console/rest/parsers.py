"""The API's JSON parser: the default for every DRF view (REST_FRAMEWORK in settings).

Kept apart, with few imports, because DRF imports it while defining its view classes.
"""

import json
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class StrictJSONParser(JSONParser):
    """JSON whose text the database can store: no lone surrogates such as "\\ud800", and
    no nesting deep enough to exhaust Python's recursion limit.

    Python's json accepts the first (PostgreSQL refuses it later) and raises
    RecursionError, not ValueError, on the second: either would be a 500.
    """

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: dict | None = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("The body is nested too deeply.") from None
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ParseError("The body contains text that is not valid Unicode (a lone "
                             "surrogate escape such as \\ud800).") from None
        except (ValueError, RecursionError):
            raise ParseError("The body is nested too deeply.") from None
        return data
