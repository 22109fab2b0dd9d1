"""OpenAI-compatible endpoint models, against a tiny fake server on 127.0.0.1: replies are parsed, bad SQL is
repaired with SQLite's error fed back, and destructive replies are refused without touching the database."""
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from mirror_helpers import db_fingerprint, sqlite_rows

from girflow.frontends.mirror.errors import MirrorError


class FakeOpenAI:
    """Answers /v1/chat/completions with the next scripted reply; records the prompts it got."""

    def __init__(self, replies):
        self.replies = list(replies)
        self.prompts = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.prompts.append((self.path, body))
                reply = fake.replies.pop(0) if len(fake.replies) > 1 else fake.replies[0]
                data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    servers = []

    def start(replies):
        servers.append(FakeOpenAI(replies))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def test_endpoint_answer_is_extracted_and_run(fake, demo_db, tmp_path):
    from girflow import Mirror

    server = fake(["Sure!\n```sql\nSELECT country, COUNT(*) FROM customers GROUP BY country\n```", "Germany leads."])
    m = Mirror(demo_db, model=server.url, model_name="fake-model", out_dir=tmp_path)
    answer = m.ask("How many customers are there in each country?")
    assert answer.rows == sqlite_rows(demo_db, "SELECT country, COUNT(*) FROM customers GROUP BY country")
    path, body = server.prompts[0]
    assert path == "/v1/chat/completions" and body["model"] == "fake-model"
    assert "customers" in body["messages"][-1]["content"]


def test_repair_loop_feeds_sqlite_error_back(fake, demo_db, tmp_path):
    from girflow import Mirror

    server = fake(["SELECT colour FROM products", "SELECT COUNT(*) FROM products", "ok"])
    # candidates=0: the model writes the query even where the question's grammar allows only one
    m = Mirror(demo_db, model=server.url, model_name="m", out_dir=tmp_path, model_summary=False, candidates=0)
    answer = m.ask("How many products are there?")
    assert answer.rows == [(75,)]
    assert "no such column: colour" in server.prompts[1][1]["messages"][-1]["content"]
    assert any(s.name == "repair-1" for s in answer.trace)


def test_destructive_model_output_is_refused(fake, demo_db, tmp_path):
    from girflow import Mirror

    before = db_fingerprint(demo_db)
    server = fake(["DROP TABLE orders"])
    m = Mirror(demo_db, model=server.url, model_name="m", out_dir=tmp_path, candidates=0)
    with pytest.raises(MirrorError, match="could not produce a valid query"):
        m.ask("How many orders are there?")
    server2 = fake(["SELECT 1; DELETE FROM orders"])
    with pytest.raises(MirrorError):
        Mirror(demo_db, model=server2.url, model_name="m", out_dir=tmp_path, candidates=0).ask("How many orders are there?")
    assert db_fingerprint(demo_db) == before


def test_unreachable_endpoint_is_a_clear_error(demo_db, tmp_path):
    from girflow import Mirror

    m = Mirror(demo_db, model="http://127.0.0.1:9/v1", model_name="m", out_dir=tmp_path, candidates=0)
    with pytest.raises(MirrorError, match="cannot reach model endpoint"):
        m.ask("How many orders are there?")
    with pytest.raises(MirrorError, match="model name"):
        Mirror(demo_db, model="http://127.0.0.1:9/v1")


@pytest.mark.slow  # the server reads the whole prompt (~1.4k tokens) without a saved head: 5-100 s by load
def test_llama_cpp_openai_server_gets_the_grammar(demo_db, tmp_path):
    """llama-cpp-python's own OpenAI-compatible server, started here on 127.0.0.1 with the shipped GGUF: the
    endpoint path sends the question's grammar (as GBNF), so the server's answer follows it, and runs."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from girflow import Mirror
    from girflow.frontends.mirror.models import embedded_gguf_path

    for extra in ("fastapi", "uvicorn", "sse_starlette", "starlette_context", "pydantic_settings"):
        pytest.importorskip(extra, reason="the server extra is pinned in pyproject.toml: pip install -e .")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", embedded_gguf_path(),
                               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--n_threads", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        for _ in range(240):
            try:
                urllib.request.urlopen(url + "/models", timeout=2).read()
                break
            except OSError:
                assert server.poll() is None, "llama_cpp.server exited"
                time.sleep(0.5)
        m = Mirror(demo_db, model=url, model_name="smollm2", out_dir=tmp_path, model_summary=False, charts=False,
                   candidates=0)  # the server writes the query, though this question's grammar allows only one
        m.model.timeout = 600
        answer = m.ask("How many customers are there?")
        assert m.model.takes_grammar is True
        assert answer.rows == sqlite_rows(demo_db, "SELECT COUNT(*) FROM customers")
    finally:
        server.kill()
        server.wait(timeout=30)
