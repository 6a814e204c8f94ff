"""export-admin: header files and data files neo4j-admin can import, round-tripped by parsing."""

from __future__ import annotations

import csv

import pytest

from saegraph.ingest.bundle import open_bundle
from saegraph.ingest.stores.export_admin import ARRAY_DELIMITER, export_admin
from saegraph.schema.graph import RelType
from tests.helpers.store_fixtures import make_graph_bundle


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("x")
    bundle = make_graph_bundle(root / "bundle", n_saes=2, n_features=40, seed=2)
    args = export_admin(bundle, root / "import")
    return open_bundle(bundle), root / "import", args


def _read(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_every_node_and_rel_file_pair_exists(exported):
    _, out, args = exported
    assert [a.split("=")[0] for a in args["nodes"]] == ["Model", "Dataset", "SAE", "Run", "Feature"]
    assert {a.split("=")[0] for a in args["relationships"]} == {
        "IN_SAE",
        "OF_MODEL",
        "PRODUCED",
        "USED",
        *(t.value for t in RelType),
    }
    command = (out / "import-command.txt").read_text()
    assert "neo4j-admin database import full" in command
    assert f"--report-file={(out / 'import.report').resolve()}" in command  # not the working directory
    for a in args["nodes"] + args["relationships"]:
        for f in a.split("=", 1)[1].split(","):
            assert (out / f).exists() and f in command


def test_feature_header_and_rows_round_trip(exported):
    b, out, _ = exported
    header = _read(out / "features_header.csv")[0]
    assert header[0] == "featureId:ID(Feature)" and "index:long" in header and "topTokens:string[]" in header
    assert "dead:boolean" in header and "density:double" in header
    rows = _read(out / "features.csv")
    feats = b.frame("features")
    assert len(rows) == len(feats)
    i_tok = header.index("topTokens:string[]")
    for row, (_, f) in zip(rows, feats.iterrows()):
        assert row[0] == f.featureId
        assert (row[i_tok].split(ARRAY_DELIMITER) if row[i_tok] else []) == list(f.topTokens)


def test_relationship_header_uses_feature_id_space(exported):
    b, out, _ = exported
    header = _read(out / "co_activates_header.csv")[0]
    assert header[:2] == ["source:START_ID(Feature)", "target:END_ID(Feature)"]
    assert "count:long" in header and header[-1] == "runId"
    assert len(_read(out / "co_activates.csv")) == b.table("co_activates").num_rows
    assert _read(out / "matches_header.csv")[0][-3:] == ["mutual:boolean", "rank:long", "runId"]
    assert _read(out / "in_sae_header.csv")[0] == ["featureId:START_ID(Feature)", "saeId:END_ID(SAE)"]
