"""The graph schema, in one place: labels, relationship types, properties, DDL."""
