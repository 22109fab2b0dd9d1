"""The Mirror web page: a stdlib HTTP server on 127.0.0.1 serving one page and a small JSON API.

POST /api/ask {question}; POST /api/run {sql, question}; POST /api/upload?name=f.csv (raw CSV body);
GET /api/history; GET /charts/<file>. One Mirror at a time; a CSV upload replaces it (same model).
"""
from __future__ import annotations

import json
import re
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from .display import display_rows
from .errors import MirrorError
from .schema import read_csv_rows

PAGE = Path(__file__).with_name("page.html")
MAX_UPLOAD = 20 * 1024 * 1024


class MirrorApp:
    """Session state behind the page: the current Mirror and the history of this session."""

    def __init__(self, mirror):
        self.mirror = mirror
        self.history: list[dict] = []
        self.lock = threading.Lock()

    def answer_json(self, answer) -> dict:
        chart = f"/charts/{Path(answer.chart).name}" if answer.chart else None
        rows = [[v if isinstance(v, (int, float, str)) or v is None else str(v) for v in r] for r in answer.rows]
        return {"question": answer.question, "sql": answer.sql, "columns": answer.columns, "rows": rows,
                "display": display_rows(answer.rows),  # rounded for reading; "rows" keeps the exact values
                "summary": answer.summary, "chart": chart, "truncated": answer.truncated,
                "trace": [{"name": s.name, "output": s.output, "ms": round(s.seconds * 1000)} for s in answer.trace]}

    def ask(self, question: str) -> dict:
        with self.lock:
            out = self.answer_json(self.mirror.ask(question))
            self.history.append({"question": question, "sql": out["sql"], "rows": len(out["rows"])})
            return out

    def run(self, sql: str, question: str | None) -> dict:
        with self.lock:
            out = self.answer_json(self.mirror.run(sql, question or None))
            self.history.append({"question": question or "(edited SQL)", "sql": out["sql"], "rows": len(out["rows"])})
            return out

    def upload(self, name: str, data: bytes) -> dict:
        from .pipeline import Mirror

        name = re.sub(r"[^\w.\-]", "_", Path(name or "upload.csv").name)
        if not name.lower().endswith(".csv"):
            raise MirrorError("please upload a .csv file")
        read_csv_rows(data, name)  # refuse malformed files before touching anything
        folder = Path(tempfile.mkdtemp(prefix="mirror_upload_", dir=self.mirror.out_dir))
        (folder / name).write_bytes(data)
        with self.lock:
            old = self.mirror
            self.mirror = Mirror(folder / name, model=old.model, out_dir=old.out_dir, row_cap=old.guard.row_cap,
                                 time_limit_s=old.guard.time_limit_s)
            old.engine.close()
            self.history.append({"question": f"(uploaded {name})", "sql": "", "rows": 0})
        return {"tables": [{"name": t.name, "rows": t.row_count, "columns": [c.name for c in t.columns]}
                           for t in self.mirror.schema.tables]}

    def schema(self) -> dict:
        return {"schema": self.mirror.schema.describe(), "source": str(self.mirror.engine.location),
                "engine": self.mirror.engine.name}


def make_handler(app: MirrorApp):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, code: int, obj) -> None:
            self._send(code, json.dumps(obj).encode(), "application/json")

        def do_GET(self):
            url = urlparse(self.path)
            if url.path == "/":
                return self._send(200, PAGE.read_bytes(), "text/html; charset=utf-8")
            if url.path == "/api/history":
                return self._json(200, app.history)
            if url.path == "/api/schema":
                return self._json(200, app.schema())
            m = re.fullmatch(r"/charts/([0-9a-f]{16}\.(png|svg))", url.path)
            if m:
                f = app.mirror.out_dir / "charts" / m.group(1)
                if f.exists():
                    return self._send(200, f.read_bytes(), "image/png" if m.group(2) == "png" else "image/svg+xml")
            self._json(404, {"error": "not found"})

        def do_POST(self):
            url = urlparse(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_UPLOAD:
                return self._json(413, {"error": "upload too large (20 MB at most)"})
            body = self.rfile.read(length)
            try:
                if url.path == "/api/upload":
                    name = parse_qs(url.query).get("name", ["upload.csv"])[0]
                    return self._json(200, app.upload(name, body))
                data = json.loads(body or b"{}")
                if url.path == "/api/ask":
                    return self._json(200, app.ask(str(data.get("question", ""))))
                if url.path == "/api/run":
                    return self._json(200, app.run(str(data.get("sql", "")), data.get("question")))
            except MirrorError as e:
                return self._json(400, {"error": str(e)})
            except ValueError:
                return self._json(400, {"error": "the request body is not valid JSON"})
            self._json(404, {"error": "not found"})

    return Handler


def make_server(mirror, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(MirrorApp(mirror)))
    server.daemon_threads = True
    return server


def serve(mirror, host: str = "127.0.0.1", port: int = 8765) -> int:
    server = make_server(mirror, host, port)
    print(f"Mirror is serving {mirror.engine.location} ({mirror.engine.name}) at http://{host}:{server.server_address[1]}/  (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
