"""Package mapping only (everything else is in pyproject.toml).

The repository keeps its product folders at the top level (``ingest/``, ``queries/``,
``schema/``) and installs them under one namespace, ``saegraph``, so that no top-level
import name collides with another distribution (PyPI's ``queries`` and ``schema``).
"""

from setuptools import find_namespace_packages, setup

MAPPED = {
    "saegraph": "saegraph",
    "saegraph.ingest": "ingest",
    "saegraph.queries": "queries",
    "saegraph.schema": "schema",
}

packages = []
for name, folder in MAPPED.items():
    packages.append(name)
    packages += [f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"])]

setup(packages=packages, package_dir=MAPPED)
