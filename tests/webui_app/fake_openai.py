"""A tiny OpenAI-compatible backend standing in for vLLM in the real-application tests.

Standard library only. It serves one model, answers `GET /v1/models` and `POST /v1/chat/completions`
(plain or streamed), and refuses with 401 every request without `Authorization: Bearer <key>`, as vLLM
started with `--api-key` does. It records what it received so tests can see the key and the prompt arrive.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY = "Hello from the fake vLLM backend."


@dataclass
class Seen:
    """One request the backend received."""

    method: str
    path: str
    authorized: bool
    body: dict[str, Any] | None = None


@dataclass
class FakeOpenAI:
    """The backend: start() on a free loopback port, stop() when done."""

    api_key: str
    model: str
    reply: str = REPLY  # what every answer says (tell two backends apart by it)
    requests: list[Seen] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeOpenAI:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _authorized(self) -> bool:
                return self.headers.get("Authorization", "") == f"Bearer {backend.api_key}"

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _refuse(self) -> None:
                self._send(401, {"error": {"message": "Unauthorized", "type": "invalid_request_error"}})

            def do_GET(self) -> None:
                ok = self._authorized()
                backend.requests.append(Seen("GET", self.path, ok))
                if not ok:
                    return self._refuse()
                if self.path == "/v1/models":
                    model = {"id": backend.model, "object": "model", "created": 0, "owned_by": "vllm"}
                    return self._send(200, {"object": "list", "data": [model]})
                self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    body = None
                ok = self._authorized()
                backend.requests.append(Seen("POST", self.path, ok, body))
                if not ok:
                    return self._refuse()
                if self.path != "/v1/chat/completions" or not isinstance(body, dict):
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if body.get("model") != backend.model:
                    return self._send(404, {"error": {"message": f"model {body.get('model')!r} not served"}})
                if body.get("stream"):
                    return self._stream()
                self._send(
                    200,
                    {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": backend.model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": backend.reply},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 7, "total_tokens": 8},
                    },
                )

            def _stream(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                chunks = [{"role": "assistant", "content": ""}, {"content": backend.reply}]
                for i, delta in enumerate(chunks):
                    event = {
                        "id": "chatcmpl-fake",
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": backend.model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if i else None}],
                    }
                    self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
