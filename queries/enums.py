"""Allowlists for the parts of a Cypher statement that cannot be ``$params``.

Labels, relationship types and property names are part of a statement's text, so a query
that varies them is a template whose ``{{placeholder}}`` slots are filled only from these
Enums (never from user text). :meth:`RelType.tokens` gives the values a template may use.
"""

from __future__ import annotations

from enum import Enum


class RelType(str, Enum):
    """Feature-to-feature relationship types (DESIGN.md §5)."""

    CO_ACTIVATES = "CO_ACTIVATES"
    LASSO = "LASSO"
    COSINE = "COSINE"
    MATCHES = "MATCHES"

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
    def within_sae(self) -> bool:
        """True when both endpoints are features of the same SAE."""
        return self is not RelType.MATCHES

    @property
    def properties(self) -> tuple[str, ...]:
        """Relationship properties in bundle-column order (without source/target)."""
        return _REL_PROPERTIES[self]

    def tokens(self) -> dict[str, str]:
        """Template slots: ``relType``, ``relWeight``, ``relSuffix``."""
        return {"relType": self.value, "relWeight": self.weight, "relSuffix": self.suffix}

    @classmethod
    def parse(cls, value: "str | RelType") -> "RelType":
        """Accept a member, its value (``CO_ACTIVATES``), name, table (``co_activates``) or suffix."""
        if isinstance(value, RelType):
            return value
        key = str(value).strip()
        for member in cls:
            if key in (member.value, member.name, member.table, member.suffix):
                return member
        raise ValueError(f"unknown relationship type {value!r}: use one of {[m.value for m in cls]}")

    @classmethod
    def graph_types(cls) -> tuple["RelType", ...]:
        """The within-SAE types that algorithms run on and write back for."""
        return (cls.CO_ACTIVATES, cls.LASSO, cls.COSINE)


_WEIGHT = {
    RelType.CO_ACTIVATES: "npmi",
    RelType.LASSO: "weight",
    RelType.COSINE: "similarity",
    RelType.MATCHES: "cosine",
}

_REL_PROPERTIES: dict[RelType, tuple[str, ...]] = {
    RelType.CO_ACTIVATES: (
        "saeId", "count", "jaccard", "npmi", "phi", "pTargetGivenSource", "pSourceGivenTarget",
        "pearson", "pValue", "qValue", "runId",
    ),
    RelType.LASSO: ("saeId", "weight", "stability", "nReplicates", "nullReplicates", "pValue", "qValue", "runId"),
    RelType.COSINE: ("saeId", "similarity", "rank", "runId"),
    RelType.MATCHES: ("sourceSae", "targetSae", "cosine", "actCorr", "method", "mutual", "rank", "runId"),
}


class Label(str, Enum):
    """Node labels (DESIGN.md §5)."""

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
    def of(cls, kind: "AlgoKind | str", rel_type: "RelType | str") -> "FeatureProperty":
        """``FeatureProperty.of("community", RelType.LASSO) -> COMMUNITY_LASSO``."""
        kind = AlgoKind(kind)
        rel = RelType.parse(rel_type)
        if not rel.within_sae:
            raise ValueError(f"no write-back property for {rel.value}: use one of {[t.value for t in RelType.graph_types()]}")
        return cls(kind.value + rel.suffix)

    @property
    def kind(self) -> AlgoKind:
        for k in AlgoKind:
            if self.value.startswith(k.value):
                return k
        raise AssertionError(self)  # every member starts with a kind

    @property
    def rel_type(self) -> RelType:
        return RelType.parse(self.value[len(self.kind.value):])

    @property
    def is_integer(self) -> bool:
        """Community / component / degree ids and counts are integers; the rest floats."""
        return self.kind in (AlgoKind.COMMUNITY, AlgoKind.COMPONENT, AlgoKind.DEGREE)


TEMPLATE_ENUMS: dict[str, type[Enum]] = {"RelType": RelType, "FeatureProperty": FeatureProperty, "Label": Label}
