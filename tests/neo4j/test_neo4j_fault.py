"""Neo4j becomes unreachable in the middle of a load (needs NEO4J_URI; skipped otherwise).

The driver talks to the server through a local TCP proxy that the test cuts after k
batches (live connections closed, the port refusing new ones). Proven: a brief outage is
retried with exponential backoff and the load completes exactly; an outage that lasts makes
the loader give up with a ``LoadInterrupted`` naming the last committed batch, and a re-run
continues from the resume record on the ``:Run`` node and completes the load with no
duplicate relationships (tests/reliability/test_loader_retry.py proves the same without a server).
"""

from __future__ import annotations

import os
import socket
import threading
from urllib.parse import urlparse

import pytest

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.common import LoadInterrupted
from saegraph.ingest.stores.neo4j import StoreRunner, forget_load_progress, load_bundle_neo4j
from saegraph.queries import RelType, open_store
from saegraph.queries.stores import neo4j_credentials
from tests.helpers.store_fixtures import make_graph_bundle
from tests.neo4j.conftest import delete_prefixed, ids, run_id

pytestmark = pytest.mark.neo4j

P = ids("fault")
RUN_ID = run_id("fault")
BATCH = 50


class CuttableProxy:
    """TCP proxy 127.0.0.1:port -> the Neo4j server; ``cut()`` makes it unreachable, ``restore()`` heals."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.port = self._free_port()
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener: socket.socket | None = None
        self.restore()

    @staticmethod
    def _free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def restore(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def cut(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept thread; the port stops listening
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self.conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass


class CuttingRunner(StoreRunner):
    """Runs statements on the store; cuts the proxy once ``cut_after`` statements have committed."""

    def __init__(self, store, proxy: CuttableProxy, cut_after: int):
        super().__init__(store)
        self.proxy, self.cut_after, self.committed = proxy, cut_after, 0

    def __call__(self, name, params):
        if self.committed == self.cut_after:
            self.proxy.cut()
            self.cut_after = -1
        out = super().__call__(name, params)
        self.committed += 1
        return out


def _open_through(proxy: CuttableProxy):
    """A Neo4j store whose driver goes through the proxy and gives up its own retries quickly."""
    import neo4j

    store = open_store(neo4j_uri=f"bolt://127.0.0.1:{proxy.port}")
    creds = neo4j_credentials()
    store.driver.close()
    store.driver = neo4j.GraphDatabase.driver(
        f"bolt://127.0.0.1:{proxy.port}",
        auth=(creds["user"], creds["password"]) if creds["password"] else None,
        max_transaction_retry_time=1.0,
        connection_timeout=2.0,
        connection_acquisition_timeout=5.0,
    )
    return store


def _delete_run(store) -> None:
    """Start each test from a store without this run's relationships (so the counts mean something)."""
    for rel in RelType:
        store.run_named("_load.delete_run_rels", relType=rel, runId=RUN_ID)
    store.run_named("_load.set_run_complete", runId=RUN_ID, complete=False)
    forget_load_progress(StoreRunner(store), RUN_ID)  # its rows are gone: a resume must not skip them


@pytest.fixture(scope="module")
def setup(tmp_path_factory, neo4j_store):
    bundle = make_graph_bundle(
        tmp_path_factory.mktemp("fault") / "b", n_saes=2, n_features=80, seed=51, run_id=RUN_ID, prefix=P
    )
    uri = urlparse(os.environ["NEO4J_URI"])
    proxy = CuttableProxy(uri.hostname or "127.0.0.1", uri.port or 7687)
    direct = open_store(neo4j_uri=os.environ["NEO4J_URI"])
    direct.apply_schema()
    yield bundle, proxy, direct
    delete_prefixed(direct, P)
    direct.close()
    proxy.cut()


def _assert_loaded_exactly(direct, bundle) -> None:
    b = open_bundle(bundle)
    for rel in RelType:
        got = direct.edges(rel, run_id=RUN_ID)
        assert len(got) == b.table(rel.table).num_rows, rel
        assert not got.duplicated(["source", "target"]).any(), f"duplicate {rel.value} relationships"
    runs = direct.run("MATCH (r:Run {runId: $runId}) RETURN r.complete AS complete", {"runId": RUN_ID})
    assert runs["complete"].tolist() == [True]


def test_brief_outage_is_retried(setup):
    bundle, proxy, direct = setup
    _delete_run(direct)
    store = _open_through(proxy)
    sleeps: list[float] = []

    def sleep_then_heal(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            proxy.restore()

    try:
        load_bundle_neo4j(
            bundle,
            CuttingRunner(store, proxy, cut_after=6),
            batch_size=BATCH,
            progress=False,
            retries=5,
            backoff=0.1,
            sleep=sleep_then_heal,
        )
    finally:
        store.close()
    assert sleeps[:2] == [0.1, 0.2] and len(sleeps) >= 2
    _assert_loaded_exactly(direct, bundle)


def test_lasting_outage_gives_up_and_rerun_completes(setup):
    from neo4j.exceptions import ServiceUnavailable, SessionExpired

    bundle, proxy, direct = setup
    _delete_run(direct)
    store = _open_through(proxy)
    sleeps: list[float] = []
    try:
        with pytest.raises(LoadInterrupted) as info:
            load_bundle_neo4j(
                bundle,
                CuttingRunner(store, proxy, cut_after=8),
                batch_size=BATCH,
                progress=False,
                retries=3,
                backoff=0.05,
                sleep=sleeps.append,
            )
    finally:
        store.close()
    assert isinstance(info.value.__cause__, (ServiceUnavailable, SessionExpired, ConnectionError))
    assert sleeps == [0.05, 0.1, 0.2]
    proxy.restore()
    report = load_bundle_neo4j(bundle, StoreRunner(direct), batch_size=BATCH, progress=False)  # the re-run
    assert report.resumed_from is not None
    _assert_loaded_exactly(direct, bundle)


def test_give_up_names_the_last_committed_batch(setup):
    bundle, proxy, _ = setup
    store = _open_through(proxy)
    try:
        with pytest.raises(LoadInterrupted) as info:
            load_bundle_neo4j(
                bundle,
                CuttingRunner(store, proxy, cut_after=8),
                batch_size=BATCH,
                progress=False,
                retries=1,
                backoff=0.01,
                sleep=lambda s: None,
            )
    finally:
        store.close()
        proxy.restore()
    text = str(info.value).lower()
    assert "batch" in text and "committed" in text, text
