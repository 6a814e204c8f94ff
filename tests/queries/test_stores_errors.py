"""Embedded engine errors become one-line StoreErrors that name the fix (queries/stores.py)."""

from __future__ import annotations

import pytest

from saegraph.queries.stores import StoreError, _execute_df


class _FailingConnection:
    def __init__(self, message: str):
        self.message = message

    def execute(self, cypher, params):
        raise RuntimeError(self.message)


def test_full_buffer_pool_names_the_fix():
    conn = _FailingConnection(
        "Buffer manager exception: Unable to allocate memory! The buffer pool is full and no memory could be freed!"
    )
    with pytest.raises(StoreError) as err:
        _execute_df(conn, "// lookup.sae_overview: one row per SAE\nMATCH (s:SAE) RETURN s", None)
    text = str(err.value)
    assert "\n" not in text
    assert "lookup.sae_overview" in text and "larger buffer_pool_size" in text


def test_other_engine_errors_carry_no_pool_hint():
    with pytest.raises(StoreError) as err:
        _execute_df(
            _FailingConnection("Binder exception: Table Foo does not exist."), "MATCH (f:Foo) RETURN f", None
        )
    assert "buffer_pool_size" not in str(err.value) and "Foo does not exist" in str(err.value)
