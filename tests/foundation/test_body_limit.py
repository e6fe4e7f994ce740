"""Oversized bodies are refused before Django reads them, declared or streamed."""

import json

import pytest
from asgiref.testing import ApplicationCommunicator

from console.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def post(path: str, chunks: list[bytes], headers: list[tuple[bytes, bytes]]) -> tuple:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "path": path, "raw_path": path.encode(), "query_string": b"",
             "scheme": "http", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000),
             "headers": [(b"host", b"127.0.0.1:8000"),
                         (b"content-type", b"application/json"), *headers]}
    app = ApplicationCommunicator(application, scope)
    for i, chunk in enumerate(chunks):
        await app.send_input({"type": "http.request", "body": chunk,
                              "more_body": i < len(chunks) - 1})
    start = await app.receive_output(timeout=10)
    body = await app.receive_output(timeout=10)
    await app.wait(timeout=10)
    return start["status"], json.loads(body["body"])


async def test_a_declared_oversized_ingest_body_is_refused_at_once(rack):
    status, body = await post(rack.ingest_path, [b""],
                              [(b"content-length", str(10 * 1024 * 1024).encode())])
    assert status == 413 and "256 KiB" in body["error"]


async def test_a_streamed_oversized_body_is_cut_off(rack):
    chunks = [b"x" * 65536] * 8  # 512 KiB, no Content-Length
    status, body = await post(rack.ingest_path, chunks, [])
    assert status == 413 and "larger than" in body["error"]


async def test_a_nonsense_content_length_is_a_clear_error(rack):
    status, body = await post(rack.ingest_path, [b"{}"], [(b"content-length", b"lots")])
    assert status == 400 and "Content-Length" in body["error"]


async def test_a_body_under_the_limit_reaches_the_view(rack):
    event = json.dumps({"action": "app:create", "data": {"name": "web"}}).encode()
    status, body = await post(rack.ingest_path, [event],
                              [(b"content-length", str(len(event)).encode())])
    assert status == 202 and body["duplicate"] is False
