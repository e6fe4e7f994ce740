"""A notification reaches the browser whichever process made it: a Celery task on Redis, or
the worker threads of the one-process embedded console."""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import websockets
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from console.asgi import application
from racks.local import LocalRack
from tests.helpers import free_port, wait_for

BASE_DIR = Path(__file__).resolve().parents[2]


async def socket_for(user) -> WebsocketCommunicator:
    client = Client()
    await sync_to_async(client.force_login)(user)
    cookie = client.cookies["sessionid"].value
    socket = WebsocketCommunicator(application, "/ws/notifications/", headers=[
        (b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000"),
        (b"cookie", f"sessionid={cookie}".encode())])
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_json_from(timeout=3))["type"] == "unread_count"
    return socket


async def next_message(socket: WebsocketCommunicator, timeout: float = 10) -> str:
    while True:
        message = await socket.receive_json_from(timeout=timeout)
        if message["type"] == "notification":
            return message["notification"]["message"]


@pytest.mark.django_db(transaction=True)
async def test_events_of_celery_tasks_reach_the_browser(member, rack, celery_worker):
    socket = await socket_for(member)
    app = await sync_to_async(LocalRack().create_app)(rack, "demo")
    assert await next_message(socket) == "[production] Created app demo"

    build = await sync_to_async(LocalRack().start_build)(app, fail=True)
    assert await next_message(socket) == f"[production] Build {build.id} failed for app demo"

    release = await sync_to_async(LocalRack().set_env)(app, {"A": "1"})
    assert await next_message(socket) == (
        f"[production] Created release {release.id} for app demo")
    await sync_to_async(LocalRack().promote)(release)
    assert await next_message(socket) == f"[production] Promoted release {release.id} for app demo"
    assert await next_message(socket) == (
        f"[production] Finished rolling deploy of release {release.id} for app demo")
    await socket.disconnect()
    await sync_to_async(connections.close_all)()


@pytest.fixture
def embedded_console(tmp_path):
    """`manage.py runconsole` as a person starts it: SQLite, no Redis, one process."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'console.sqlite3'}",
               LOCAL_RACK_BUILD_SECONDS="0.2", LOCAL_RACK_DEPLOY_SECONDS="0.2")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runconsole", "--demo", "--port", str(port)],
        cwd=BASE_DIR,
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(base + "/accounts/login/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None
    try:
        wait_for(up, timeout=60)
        assert process.poll() is None, process.stdout.read().decode()
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def log_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=10)
    client.get("/accounts/login/")
    csrf = client.cookies["csrftoken"]
    response = client.post("/accounts/login/", data={
        "username": "demo", "password": "rack-console-demo", "csrfmiddlewaretoken": csrf})
    assert response.status_code == 302, response.text
    return client


def post_form(client: httpx.Client, url: str, data: dict) -> httpx.Response:
    page = client.post(url, data={**data, "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                       headers={"Referer": str(client.base_url)}, follow_redirects=True)
    assert page.status_code == 200, page.text
    return page


def test_the_embedded_console_pushes_a_failing_build_from_its_worker_threads(
        embedded_console):
    web = log_in(embedded_console)
    rack_page = web.get("/racks/").text
    rack_id = re.search(r'href="/racks/(\d+)/"', rack_page).group(1)

    async def watch() -> list[str]:
        url = embedded_console.replace("http", "ws", 1) + "/ws/notifications/"
        cookie = f"sessionid={web.cookies['sessionid']}"
        async with websockets.connect(url, origin=embedded_console,
                                      additional_headers={"Cookie": cookie}) as ws:
            assert json.loads(await ws.recv())["type"] == "unread_count"
            await asyncio.to_thread(post_form, web, f"/racks/{rack_id}/apps/", {"name": "demo"})
            await asyncio.to_thread(post_form, web, f"/racks/{rack_id}/apps/demo/builds/",
                                    {"fail": "on"})
            seen: list[str] = []
            while not any("failed" in m for m in seen):
                message = json.loads(await asyncio.wait_for(ws.recv(), 15))
                if message["type"] == "notification":
                    seen.append(message["notification"]["message"])
            return seen

    seen = asyncio.run(watch())
    assert seen[0] == "[demo-rack] Created app demo"
    assert re.fullmatch(r"\[demo-rack\] Build B[A-Z]{10} failed for app demo", seen[-1])
