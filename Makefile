# Developer tasks. CI runs `.ci/run`, which runs the same checks (lint, types, tests).
PY ?= python

.PHONY: install fmt lint types test test-fast neo4j-start neo4j-stop

install:  ## editable install with the test extra (the README's test command, first half)
	pip install -e ".[cpu,test]"

fmt:  ## format and sort imports
	ruff format .
	ruff check --fix --select I .

lint:  ## ruff lint + format check (includes the dependency rules, banned-api)
	ruff check .
	ruff format --check .

types:  ## mypy over the four source folders
	mypy

test:  ## the whole suite (Neo4j tests skip unless NEO4J_URI is set; see .ci/run)
	$(PY) -m pytest -q

test-fast:  ## everything but the tests marked slow (under two minutes on 2 cores)
	$(PY) -m pytest -q -m "not slow"

neo4j-start:  ## a local Neo4j + GDS from Maven Central, no Docker (docs/neo4j.md)
	scripts/neo4j-local start

neo4j-stop:
	scripts/neo4j-local stop
