"""A loopback OpenAI-compatible chat-completions endpoint for the LLM paths (the one outside service
these tests cannot run): real HTTP, the real wire format, answering what the test sets."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FakeLLM(BaseHTTPRequestHandler):
    """An OpenAI-compatible ``POST /v1/chat/completions`` on loopback, answering what the test set."""

    answer: str = ""
    delay: float = 0.0
    seen: list = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        request = json.loads(self.rfile.read(length))
        type(self).seen.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": request}
        )
        time.sleep(type(self).delay)
        payload = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": type(self).answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }
        data = json.dumps(payload).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_llm(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeLLM.seen = []
    FakeLLM.delay = 0.0
    monkeypatch.setenv("AIRFLOW__HEADRACE__LLM_ENDPOINT", f"http://127.0.0.1:{server.server_port}/v1")
    monkeypatch.setenv("AIRFLOW__HEADRACE__LLM_MODEL", "test-model")
    monkeypatch.setenv("AIRFLOW__HEADRACE__LLM_CONN_ID", "test_llm")
    monkeypatch.setenv("AIRFLOW__HEADRACE__LLM_TIMEOUT", "1")
    monkeypatch.setenv(
        "AIRFLOW_CONN_TEST_LLM", json.dumps({"conn_type": "http", "password": "sk-test-key-123"})
    )
    yield FakeLLM
    server.shutdown()
    server.server_close()
