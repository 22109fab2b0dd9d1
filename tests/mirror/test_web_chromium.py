"""The web page end to end in a real headless Chromium (Debian's, driven by Playwright): ask, edit the SQL,
run, see table/summary/chart, upload a CSV (good and malformed), and the session history."""
import os
import threading

import pytest
from mirror_helpers import db_fingerprint, sqlite_rows

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (apt-get install chromium)")


@pytest.fixture(scope="module")
def server(mirror):
    from girflow.frontends.mirror.web import make_server

    mirror.warm_up()  # as `girflow mirror serve` does: the prompt head is not paid inside the first answer
    srv = make_server(mirror, "127.0.0.1", 0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page()
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def table_rows(page):
    return page.eval_on_selector_all("#result-table tr", "trs => trs.slice(1).map(tr => [...tr.cells].map(c => c.textContent))")


def test_ask_edit_run_upload_history(server, page, demo_db, tmp_path):
    before = db_fingerprint(demo_db)
    page.goto(server)
    page.fill("#question", "How many orders were cancelled?")
    page.click("#ask")
    page.wait_for_selector("#result-table")
    assert page.input_value("#sql").startswith("SELECT")
    assert "The answer is" in page.text_content("#summary")

    page.fill("#sql", "SELECT category, COUNT(*) FROM products GROUP BY category ORDER BY category")
    page.click("#run")
    page.wait_for_function("document.querySelector('#status').textContent === 'done'")
    expected = sqlite_rows(demo_db, "SELECT category, COUNT(*) FROM products GROUP BY category ORDER BY category")
    assert table_rows(page) == [[c, str(n)] for c, n in expected]
    page.wait_for_function("document.querySelector('#chart').complete && document.querySelector('#chart').naturalWidth > 0")

    page.fill("#sql", "DROP TABLE orders")
    page.click("#run")
    page.wait_for_function("document.querySelector('#status').textContent === 'error'")
    assert "refused" in page.text_content("#error")
    assert db_fingerprint(demo_db) == before

    history = page.text_content("#history")
    assert "How many orders were cancelled?" in history and "GROUP BY category" in history

    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2,3\n")
    page.set_input_files("#csv", str(bad))
    page.wait_for_function("document.querySelector('#status').textContent === 'error'")
    assert "line 2 has 3 fields" in page.text_content("#error")

    good = tmp_path / "pets.csv"
    good.write_text("species,legs,weight\ncat,4,4.5\ndog,4,20.0\nbird,2,0.3\n")
    page.set_input_files("#csv", str(good))
    page.wait_for_function("document.querySelector('#status').textContent === 'done'")
    assert "pets (3 rows" in page.text_content("#summary")
    page.fill("#sql", "SELECT species, weight FROM pets ORDER BY weight DESC")
    page.click("#run")
    page.wait_for_function("document.querySelector('#status').textContent === 'done'")
    assert table_rows(page) == [["dog", "20"], ["cat", "4.5"], ["bird", "0.3"]]
