"""A request crosses from the event loop to a thread and back once or twice, not once
per middleware (console/middleware.py)."""

import pytest
from asgiref import sync
from channels.testing import HttpCommunicator

from console.asgi import django_asgi_app


@pytest.fixture
def hops(monkeypatch) -> list[str]:
    """The sync functions the request ran through `sync_to_async`, each a trip."""
    seen: list[str] = []
    original = sync.SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        seen.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)
    monkeypatch.setattr(sync.SyncToAsync, "__call__", counted)
    return seen


@pytest.mark.django_db(transaction=True)
async def test_a_page_request_goes_through_all_middleware_in_one_trip_to_a_thread(hops):
    page = HttpCommunicator(django_asgi_app, "GET", "/accounts/login/",
                            headers=[(b"host", b"localhost")])
    response = await page.get_response()
    assert response["status"] == 200
    # Left: the request signal, the chain itself, and Django's own steps around the
    # view (its view middleware, the view, the template). Without console/middleware.py
    # each middleware's process_request and process_response adds one: 16 in all.
    assert any(name.startswith("View.as_view") for name in hops), hops  # the spy sees
    assert not [name for name in hops if "process_request" in name
                or "process_response" in name], hops
    assert len(hops) <= 5, hops
