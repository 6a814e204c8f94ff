"""The graph schema, the one source of truth: labels, relationship types, their properties
with Arrow types, weight and cost rules, and the write-back properties.

Every other list derives from this module: the Arrow schemas the edge stages write
(:meth:`RelType.arrow_schema`), the tables the embedded store may COPY into, the CLI's
choices, the analysis weight and cost columns, and the template allowlists of the query
library (labels, relationship types and property names are part of a statement's text, so
a query that varies them is a template whose ``{{placeholder}}`` slots are filled only from
these Enums, never from user text). ``tests/schema/test_schema.py`` ties it to the DDL of
both stores (``schema/*.cypher``) and to ``schema/model.md``.

Weights (docs/methods.md, "Weights and path costs"): the weight of a relationship type is
the non-negative property that ranks neighbours and weights strength, communities and
PageRank. For LASSO that is ``stability`` (the fraction of replicates that select the
edge), not the signed coefficient ``weight``: a graph algorithm needs a non-negative
strength, and selection frequency is the quantity the LASSO stage's FDR controls.
"""

from __future__ import annotations

from enum import Enum

import pyarrow as pa

_STR, _F64, _I64, _BOOL = pa.string(), pa.float64(), pa.int64(), pa.bool_()


class RelType(str, Enum):
    """Feature-to-feature relationship types (``schema/model.md``)."""

    CO_ACTIVATES = "CO_ACTIVATES"
    EXCLUDES = "EXCLUDES"
    LASSO = "LASSO"
    COSINE = "COSINE"
    MATCHES = "MATCHES"
    FLOWS_TO = "FLOWS_TO"

    @property
    def table(self) -> str:
        """Bundle table name (lower snake case)."""
        return self.value.lower()

    @property
    def suffix(self) -> str:
        """UpperCamelCase suffix of write-back properties, e.g. ``CoActivates``."""
        return "".join(part.capitalize() for part in self.value.split("_"))

    @property
    def weight(self) -> str:
        """The property that ranks neighbours and weights paths/algorithms."""
        return _WEIGHT[self]

    @property
    def cost_rule(self) -> str:
        """The default additive path cost (a key of :data:`COST_RULES`)."""
        return _COST[self]

    @property
    def stage(self) -> str:
        """The edge stage that builds this type (``[edges.<stage>]``, ``saegraph edges --only``)."""
        return _STAGE[self]

    def arrow_schema(self) -> pa.Schema:
        """The bundle table's Arrow schema: ``source``, ``target``, then the properties."""
        return pa.schema([("source", _STR), ("target", _STR), *_REL_FIELDS[self]])

    @property
    def within_sae(self) -> bool:
        """True when both endpoints are features of the same SAE."""
        return self not in (RelType.MATCHES, RelType.FLOWS_TO)

    @property
    def properties(self) -> tuple[str, ...]:
        """Relationship properties in bundle-column order (without source/target)."""
        return _REL_PROPERTIES[self]

    def tokens(self) -> dict[str, str]:
        """Template slots: ``relType``, ``relWeight``, ``relSuffix``."""
        return {"relType": self.value, "relWeight": self.weight, "relSuffix": self.suffix}

    @classmethod
    def parse(cls, value: str | RelType) -> RelType:
        """Accept a member, its value (``CO_ACTIVATES``), name, table (``co_activates``) or suffix."""
        if isinstance(value, RelType):
            return value
        key = str(value).strip()
        for member in cls:
            if key in (member.value, member.name, member.table, member.suffix):
                return member
        raise ValueError(f"unknown relationship type {value!r}: use one of {[m.value for m in cls]}")

    @classmethod
    def graph_types(cls) -> tuple[RelType, ...]:
        """The within-SAE types that algorithms run on and write back for."""
        return (cls.CO_ACTIVATES, cls.LASSO, cls.COSINE)


_WEIGHT = {
    RelType.CO_ACTIVATES: "npmi",
    RelType.EXCLUDES: "exclusion",
    RelType.LASSO: "stability",
    RelType.COSINE: "similarity",
    RelType.MATCHES: "cosine",
    RelType.FLOWS_TO: "cosine",
}

_COST = {
    RelType.CO_ACTIVATES: "neg_log_jaccard",
    RelType.EXCLUDES: "one_minus_exclusion",
    RelType.LASSO: "neg_log_stability",
    RelType.COSINE: "one_minus_similarity",
    RelType.MATCHES: "one_minus_cosine",
    RelType.FLOWS_TO: "one_minus_cosine",
}

_STAGE = {
    RelType.CO_ACTIVATES: "coactivation",
    RelType.EXCLUDES: "coactivation",
    RelType.LASSO: "lasso",
    RelType.COSINE: "cosine",
    RelType.MATCHES: "matches",
    RelType.FLOWS_TO: "flow",
}

_REL_FIELDS: dict[RelType, tuple[tuple[str, pa.DataType], ...]] = {
    RelType.CO_ACTIVATES: (
        ("saeId", _STR),
        ("count", _I64),
        ("jaccard", _F64),
        ("npmi", _F64),
        ("phi", _F64),
        ("pTargetGivenSource", _F64),
        ("pSourceGivenTarget", _F64),
        ("pearson", _F64),
        ("pValue", _F64),
        ("qValue", _F64),
        ("runId", _STR),
    ),
    RelType.EXCLUDES: (
        ("saeId", _STR),
        ("count", _I64),
        ("expected", _F64),
        ("oddsRatio", _F64),
        ("exclusion", _F64),
        ("npmi", _F64),
        ("pValue", _F64),
        ("qValue", _F64),
        ("runId", _STR),
    ),
    RelType.LASSO: (
        ("saeId", _STR),
        ("weight", _F64),
        ("stability", _F64),
        ("nReplicates", _I64),
        ("nullReplicates", _I64),
        ("pValue", _F64),
        ("qValue", _F64),
        ("runId", _STR),
    ),
    RelType.COSINE: (("saeId", _STR), ("similarity", _F64), ("rank", _I64), ("runId", _STR)),
    RelType.MATCHES: (
        ("sourceSae", _STR),
        ("targetSae", _STR),
        ("cosine", _F64),
        ("actCorr", _F64),
        ("method", _STR),
        ("mutual", _BOOL),
        ("rank", _I64),
        ("runId", _STR),
    ),
    RelType.FLOWS_TO: (
        ("sourceSae", _STR),
        ("targetSae", _STR),
        ("sourceLayer", _I64),
        ("targetLayer", _I64),
        ("cosine", _F64),
        ("rank", _I64),
        ("pTargetGivenSource", _F64),
        ("actCorr", _F64),
        ("runId", _STR),
    ),
}
_REL_PROPERTIES = {rel: tuple(name for name, _ in fields) for rel, fields in _REL_FIELDS.items()}

COST_RULES: dict[str, tuple[str, str, str]] = {
    # name: (source column, transform, human description); stated in every output that uses them
    "neg_log_jaccard": ("jaccard", "neglog", "cost = -log2(jaccard) (jaccard = P(both fire | either fires))"),
    "one_minus_npmi": ("npmi", "one_minus", "cost = 1 - npmi"),
    "one_minus_exclusion": (
        "exclusion",
        "one_minus",
        "cost = 1 - exclusion (exclusion = 1 - observed/expected co-firings)",
    ),
    "neg_log_stability": ("stability", "neglog", "cost = -log2(stability) (LASSO selection frequency)"),
    "one_minus_similarity": ("similarity", "one_minus", "cost = 1 - decoder cosine similarity"),
    "one_minus_cosine": ("cosine", "one_minus", "cost = 1 - decoder cosine"),
}

LINK_TYPES = ("IN_SAE", "OF_MODEL", "PRODUCED", "USED")
"""Relationship types between node kinds (not feature-to-feature): fixed by the loaders."""


class Label(str, Enum):
    """Node labels (``schema/model.md``)."""

    MODEL = "Model"
    SAE = "SAE"
    FEATURE = "Feature"
    DATASET = "Dataset"
    RUN = "Run"

    @property
    def id_property(self) -> str:
        """The unique id property of the label (``featureId``, ``saeId``, ...)."""
        return {"SAE": "saeId"}.get(self.value, self.value[0].lower() + self.value[1:] + "Id")

    @property
    def table(self) -> str:
        """Bundle table name (``features``, ``saes``, ...); runs come from the manifest."""
        return {"SAE": "saes", "Run": "runs"}.get(self.value, self.value.lower() + "s")

    def tokens(self) -> dict[str, str]:
        """Template slots: ``label``, ``idProp``."""
        return {"label": self.value, "idProp": self.id_property}


class AlgoKind(str, Enum):
    """Kinds of per-feature algorithm results written back to ``:Feature``."""

    COMMUNITY = "community"
    COMPONENT = "component"
    PAGERANK = "pagerank"
    DEGREE = "degree"
    STRENGTH = "strength"


class FeatureProperty(str, Enum):
    """Write-back properties on ``:Feature`` (docs/bundle.md "Store write-back properties")."""

    COMMUNITY_CO_ACTIVATES = "communityCoActivates"
    COMMUNITY_LASSO = "communityLasso"
    COMMUNITY_COSINE = "communityCosine"
    COMPONENT_CO_ACTIVATES = "componentCoActivates"
    COMPONENT_LASSO = "componentLasso"
    COMPONENT_COSINE = "componentCosine"
    PAGERANK_CO_ACTIVATES = "pagerankCoActivates"
    PAGERANK_LASSO = "pagerankLasso"
    PAGERANK_COSINE = "pagerankCosine"
    DEGREE_CO_ACTIVATES = "degreeCoActivates"
    DEGREE_LASSO = "degreeLasso"
    DEGREE_COSINE = "degreeCosine"
    STRENGTH_CO_ACTIVATES = "strengthCoActivates"
    STRENGTH_LASSO = "strengthLasso"
    STRENGTH_COSINE = "strengthCosine"

    @classmethod
    def of(cls, kind: AlgoKind | str, rel_type: RelType | str) -> FeatureProperty:
        """``FeatureProperty.of("community", RelType.LASSO) -> COMMUNITY_LASSO``."""
        kind = AlgoKind(kind)
        rel = RelType.parse(rel_type)
        if not rel.within_sae:
            raise ValueError(
                f"no write-back property for {rel.value}: use one of {[t.value for t in RelType.graph_types()]}"
            )
        return cls(kind.value + rel.suffix)

    @property
    def kind(self) -> AlgoKind:
        for k in AlgoKind:
            if self.value.startswith(k.value):
                return k
        raise AssertionError(self)  # every member starts with a kind

    @property
    def rel_type(self) -> RelType:
        return RelType.parse(self.value[len(self.kind.value) :])

    @property
    def is_integer(self) -> bool:
        """Community / component / degree ids and counts are integers; the rest floats."""
        return self.kind in (AlgoKind.COMMUNITY, AlgoKind.COMPONENT, AlgoKind.DEGREE)


WRITE_BACK_PROPERTIES = frozenset(p.value for p in FeatureProperty)
"""``:Feature`` properties that the analyses write back (never part of a bundle)."""

TABLES = frozenset({*(label.value for label in Label), *LINK_TYPES, *(rel.value for rel in RelType)})
"""Every node and relationship table of the embedded store."""

TEMPLATE_ENUMS: dict[str, type[Enum]] = {
    "RelType": RelType,
    "FeatureProperty": FeatureProperty,
    "Label": Label,
}
