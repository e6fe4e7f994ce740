"""How every list of the API is paged: the feed's cursor style, shared by all of them.

A list answers `{"results": [...], "next": <url or null>, "previous": <url or null>}`;
a client follows `next` (it carries `?cursor=`) and may ask for `?limit=` items a page.
A cursor pages by the first ordering field and breaks ties by the rest, so every
ordering here ends in a unique column: a page never repeats or skips a row.

A view lists through `paged(...)`; its schema says so with `**paged_schema(...)`:

    @extend_schema(**paged_schema("RackPage", RackSerializer), summary=..., tags=[...])
    def get(self, request):
        return paged(request, self, rows, RackSerializer, ByName)
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from console.rest.common import CursorPages

__all__ = ["Pages", "NewestFirst", "ByName", "OldestFirst", "page_of", "paged",
           "paged_schema", "PAGE_PARAMETERS"]


class Pages(CursorPages):
    """The cursor pages every list shares (a forged cursor is a 404); a subclass names its
    ordering."""

    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    ordering: Any = ("-created_at", "-id")


class NewestFirst(Pages):
    """Builds, releases, invitations, tokens: the latest first (ids break equal times)."""

    ordering = ("-created_at", "-id")
    page_size = 20


class ByName(Pages):
    """Apps and resources: by name, which is unique on a rack."""

    ordering = ("name", "id")


class OldestFirst(Pages):
    """Racks (and anything listed in the order it was made): by id, which is unique."""

    ordering = ("id",)


def page_of(name: str, item: serializers.Serializer) -> serializers.Serializer:
    """The schema of one page of `item`s (pass `item` with many=True)."""
    return inline_serializer(name=name, fields={
        "next": serializers.URLField(allow_null=True,
                                     help_text="The next page, or null on the last."),
        "previous": serializers.URLField(allow_null=True,
                                         help_text="The previous page, or null on the first."),
        "results": item,
    })


PAGE_PARAMETERS = [
    OpenApiParameter("cursor", OpenApiTypes.STR, OpenApiParameter.QUERY,
                     description="Where the page starts: take it from `next` or `previous`."),
    OpenApiParameter("limit", OpenApiTypes.INT, OpenApiParameter.QUERY,
                     description=f"Items a page (at most {Pages.max_page_size})."),
]


def paged_schema(name: str, serializer: type[serializers.Serializer],
                 *errors: dict[int, Any]) -> dict[str, Any]:
    """extend_schema's `responses` and `parameters` of a paged list of `serializer`."""
    responses: dict[int, Any] = {200: page_of(name, serializer(many=True))}
    for more in errors:
        responses.update(more)
    return {"responses": responses, "parameters": PAGE_PARAMETERS}


def paged(request: Request, view: Any, rows: QuerySet, serializer: type[serializers.Serializer],
          pages: type[Pages], context: dict[str, Any] | None = None) -> Response:
    """One page of `rows` in `pages`' order, with the cursors to the next and previous."""
    pager = pages()
    page = pager.paginate_queryset(rows, request, view=view)
    return pager.get_paginated_response(
        serializer(page, many=True, context=context or {"request": request}).data)
