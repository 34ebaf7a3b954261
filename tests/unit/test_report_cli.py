"""``ketnoi report``: every refusal is one sentence with a hint, never a traceback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from tests.unit.test_cli_messages import ketnoi, nothing_runs, one_clear_line

__all__ = ["nothing_runs"]  # a fixture, used by name


class _Answers(BaseHTTPRequestHandler):
    """GET answers: 401 problem+json under /v1/sessions, an HTML 404 page elsewhere."""

    def do_GET(self) -> None:  # the http.server naming convention
        if self.path.startswith("/v1/sessions/"):
            body = json.dumps({"title": "Unauthorized", "detail": "unknown API key"}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/problem+json")
        else:
            body = b"<!DOCTYPE html>\n<html><body><h1>Not Found</h1>\n</body></html>"
            self.send_response(404)
            self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stand_in() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_report_without_a_key(nothing_runs):
    result = ketnoi(nothing_runs, "report", "session", "s-1")
    assert result.returncode == 2 and result.stdout == ""
    assert "--role organizer" in one_clear_line(result.stderr)


def test_report_with_the_gateway_down(nothing_runs):
    result = ketnoi({**nothing_runs, "KETNOI_API_KEY": "k"}, "report", "period",
                    "--from", "01/01/2026", "--to", "30/06/2026", "--xlsx", "out.xlsx")  # fmt: skip
    assert result.returncode == 1
    line = one_clear_line(result.stderr.split("\n", 1)[1])  # after the progress line
    assert "cannot reach the gateway" in line and "ketnoi gateway" in line


def test_report_with_a_date_that_is_not_one(nothing_runs):
    result = ketnoi({**nothing_runs, "KETNOI_API_KEY": "k"}, "report", "period",
                    "--from", "2026-02-30", "--to", "2026-06-30")  # fmt: skip
    assert result.returncode == 2
    assert "YYYY-MM-DD or DD/MM/YYYY" in one_clear_line(result.stderr)


def test_report_with_a_refused_key(nothing_runs, stand_in):
    result = ketnoi({**nothing_runs, "KETNOI_API_KEY": "wrong"}, "report", "session", "s-1",
                    "--api", stand_in)  # fmt: skip
    assert result.returncode == 1
    line = one_clear_line(result.stderr)
    assert "(401: unknown API key)" in line and "KETNOI_API_KEY" in line


def test_report_from_something_that_is_not_the_gateway(nothing_runs, stand_in):
    result = ketnoi({**nothing_runs, "KETNOI_API_KEY": "k"}, "report", "period", "--from",
                    "2026-01-01", "--to", "2026-06-30", "--api", stand_in)  # fmt: skip
    assert result.returncode == 1
    assert "not a Ketnoi answer: check --api" in one_clear_line(result.stderr)
