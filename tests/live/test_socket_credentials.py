"""A socket lives as long as the credentials it was opened with: a program opens it with a
single-use ticket (or its token), and revoking the token, the token expiring, or a
password change closes it."""

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from racks import accounts
from tests.live.test_consumer import open_socket, opened, session_cookie

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def token_of(user, **extra) -> tuple[APIClient, str]:
    _, key = accounts.issue_token(user, **extra)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client, key


def ticket_for(client: APIClient) -> str:
    response = client.post("/api/v1/auth/ws-ticket/")
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["expires_in"] == 30 and set(answer) == {"ticket", "expires_in"}
    return answer["ticket"]


async def closed_with(socket, code: int) -> None:
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": code}


async def test_a_program_opens_the_socket_with_a_ticket_once(member):
    client, _ = await sync_to_async(token_of)(member)
    ticket = await sync_to_async(ticket_for)(client)
    socket = await opened(query=f"ticket={ticket}")
    again, connected, _ = await open_socket(query=f"ticket={ticket}")
    assert connected  # accepted only to say why it closes
    await closed_with(again, 4401)
    await socket.disconnect()


async def test_a_ticket_is_good_for_30_seconds_only(member, monkeypatch):
    monkeypatch.setattr(accounts, "WS_TICKET_SECONDS", 1)
    client, _ = await sync_to_async(token_of)(member)
    response = await sync_to_async(client.post)("/api/v1/auth/ws-ticket/")
    assert response.json()["expires_in"] == 1
    await asyncio.sleep(1.5)  # the ticket's life runs out: the behaviour under test
    socket, _, _ = await open_socket(query=f"ticket={response.json()['ticket']}")
    await closed_with(socket, 4401)


def test_of_two_sockets_presenting_one_ticket_one_gets_in(member):
    ticket = accounts.issue_ws_ticket(member)
    taken = [accounts.take_ws_ticket(ticket), accounts.take_ws_ticket(ticket)]
    assert taken[0][0] == member and taken[1] is None


def test_a_browser_session_gets_a_ticket_too_and_anonymous_does_not(member, client_for):
    assert accounts.take_ws_ticket(ticket_for(client_for(member)))[0] == member
    assert APIClient().post("/api/v1/auth/ws-ticket/").status_code == 401


async def test_revoking_a_token_closes_the_sockets_opened_with_it(member):
    client, key = await sync_to_async(token_of)(member)
    other_client, other_key = await sync_to_async(token_of)(member)
    by_token = await opened(query=f"token={key}")
    by_ticket = await opened(query=f"ticket={await sync_to_async(ticket_for)(client)}")
    by_other = await opened(query=f"token={other_key}")
    token = await sync_to_async(AuthToken.objects.get)(token_key=key[:15])
    token_id = accounts.token_id(token)
    response = await sync_to_async(other_client.delete)(f"/api/v1/auth/tokens/{token_id}/")
    assert response.status_code == 204
    await closed_with(by_token, 4401)
    await closed_with(by_ticket, 4401)
    assert await by_other.receive_nothing(timeout=0.5)
    await by_other.disconnect()


async def test_a_socket_closes_when_its_token_expires(member):
    token, key = await sync_to_async(accounts.issue_token)(member)
    await sync_to_async(AuthToken.objects.filter(pk=token.pk).update)(
        expiry=timezone.now() + timedelta(seconds=1))
    socket = await opened(query=f"token={key}")
    assert await socket.receive_nothing(timeout=0.5)
    assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": 4401}


async def test_a_password_change_closes_the_users_sockets(member, owner):
    _, key = await sync_to_async(token_of)(member)
    by_token = await opened(query=f"token={key}")
    cookie = await sync_to_async(session_cookie)(member)
    by_session = await opened(cookie=cookie)
    someone_else = await opened(owner)

    def change_password() -> None:
        member.set_password("a-new-and-longer-passphrase-9")
        member.save()
    await sync_to_async(change_password)()
    await closed_with(by_token, 4000)  # told to reconnect; its token is gone, so it cannot
    await closed_with(by_session, 4000)
    reconnect, _, _ = await open_socket(query=f"token={key}")
    await closed_with(reconnect, 4401)
    # That session was not the one that changed the password: it has ended.
    reconnect, _, _ = await open_socket(cookie=cookie)
    await closed_with(reconnect, 4401)
    assert await someone_else.receive_nothing(timeout=0.5)
    await someone_else.disconnect()
