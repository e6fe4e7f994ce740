"""Text from people and racks where markup cannot isolate it (<title>, <option>)."""

from django import template

from racks.text import without_bidi_controls as _without_bidi_controls

register = template.Library()


@register.filter
def without_bidi_controls(text: object) -> str:
    """The text without bidirectional controls, which would reorder what follows it."""
    return _without_bidi_controls(str(text))
