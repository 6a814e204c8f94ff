"""Neo4j Browser, served by the local server, in headless Chromium: log in, run the project's
guide snippet and one favourite query, and check that the result tables render.

Chromium reaches only this machine (the harness's dead proxy takes every other address);
the only console errors allowed are resources Browser fetches from the internet (usage
reporting, fonts), which the proxy refuses.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from saegraph.ingest.stores.neo4j import StoreRunner, load_bundle_neo4j
from saegraph.queries.browser.favorites import favorite_files
from tests.helpers.browser import find_chromium, open_page
from tests.helpers.store_fixtures import make_graph_bundle
from tests.neo4j.conftest import delete_prefixed, ids, run_id

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
HTTP = os.environ.get("NEO4J_HTTP_URL", f"http://127.0.0.1:{os.environ.get('NEO4J_HTTP_PORT', '7474')}")
P = ids("browser")


def _browser_served() -> bool:
    try:
        with urllib.request.urlopen(f"{HTTP}/browser/", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, neo4j_store):
    if find_chromium() is None:
        pytest.skip("no chromium: apt-get install -y chromium")
    if not _browser_served():
        pytest.skip(f"Neo4j Browser is not served at {HTTP}/browser/ (scripts/neo4j-local serves it)")
    bundle = make_graph_bundle(
        tmp_path_factory.mktemp("browser") / "b",
        n_saes=2,
        n_features=20,
        seed=3,
        run_id=run_id("browser"),
        prefix=P,
    )
    load_bundle_neo4j(bundle, StoreRunner(neo4j_store), batch_size=100, progress=False)
    yield neo4j_store
    delete_prefixed(neo4j_store, P)


def _set(testid: str, value: str) -> str:
    """Set a React-controlled input/select the way a user's typing would."""
    return (
        f"(() => {{ const e = document.querySelector('[data-testid={testid}]');"
        " const proto = e.tagName === 'SELECT' ? HTMLSelectElement.prototype : HTMLInputElement.prototype;"
        " Object.getOwnPropertyDescriptor(proto, 'value').set.call(e, " + json.dumps(value) + ");"
        " e.dispatchEvent(new Event(e.tagName === 'SELECT' ? 'change' : 'input', {bubbles: true}));"
        " return e.value; })()"
    )


def _wait_for(condition_js: str, seconds: float = 25.0) -> str:
    """JavaScript that resolves true once ``condition_js`` holds, false after ``seconds``."""
    return (
        "new Promise(done => { const t0 = Date.now(); const poll = () => {"
        f" if ({condition_js}) done(true); else if (Date.now() - t0 > {seconds * 1000:.0f}) done(false);"
        " else setTimeout(poll, 250); }; poll(); })"
    )


def _run_in_browser(statement: str, shot: Path):
    """Open Browser with ``statement`` in the editor, log in, run it; the page's text after."""
    url = f"{HTTP}/browser/?dbms=" + urllib.parse.quote(os.environ["NEO4J_URI"], safe="")
    url += "&cmd=edit&arg=" + urllib.parse.quote(statement)
    actions = (
        # the credential fields render once the auth method changes (Browser 5.24)
        _set("authenticationMethod", "NO_AUTH"),
        _set("authenticationMethod", "NATIVE"),
        _set("username", os.environ.get("NEO4J_USER", "neo4j")),
        _set("password", os.environ.get("NEO4J_PASSWORD", "")),
        "document.querySelector('[data-testid=connect]').click(); true",
        _wait_for("document.body.innerText.includes('You are connected as user')"),
        "document.querySelector('[data-testid=editor-Run]').click(); true",
        _wait_for("document.body.innerText.includes('Started streaming')"),
        "document.body.innerText",
    )
    ready = "Array.from(document.querySelectorAll('button')).some(b => b.innerText.trim() === 'Connect')"
    return open_page(url, shot, ready_js=ready, actions=actions, offline=False, loopback=True, settle=3.0)


def _only_internet_errors(result) -> None:
    unexpected = [
        e
        for e in result.console_errors
        if "ERR_PROXY_CONNECTION_FAILED" not in e and "ERR_EMPTY_RESPONSE" not in e
    ]
    assert not unexpected and not result.exceptions, (unexpected, result.exceptions)


def test_guide_snippet_runs_in_browser(loaded, tmp_path):
    guide = (REPO / "queries" / "browser" / "guide.adoc").read_text(encoding="utf-8")
    snippet = re.search(r"\[source,cypher\]\n----\n(.*?)\n----", guide, re.S).group(1).strip()
    assert not snippet.startswith(":"), "the first guide snippet is a query"
    result = _run_in_browser(snippet, tmp_path / "browser_guide.png")
    assert result.ready, "Browser did not load"
    page = result.values[-1]
    assert result.values[5] is True, "Browser did not connect"
    assert "Started streaming" in page and "ERROR" not in page.upper().split("STARTED STREAMING")[0][-200:]
    assert f"{P}s0" in page  # this session's SAE is in the rendered table
    _only_internet_errors(result)


def test_favourite_query_renders_in_browser(loaded, tmp_path):
    favourite = favorite_files()["lookup/sae_overview.cypher"]
    result = _run_in_browser(favourite, tmp_path / "browser_favourite.png")
    page = result.values[-1]
    assert result.values[5] is True, "Browser did not connect"
    assert "Started streaming" in page, page[-800:]
    assert f"{P}s0" in page and f"{P}s1" in page
    _only_internet_errors(result)
