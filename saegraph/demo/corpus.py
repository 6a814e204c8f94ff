"""Demo corpus: real text every Python installation has — the standard library's sources.

Like the c4-code mix the seed studies used, it holds both prose (module, class and function
docstrings) and code (the source bodies). Algorithm:

1. List the ``.py`` files under the standard library directory (``sysconfig`` ``stdlib``),
   skipping test suites, ``site-packages``, ``idlelib`` and other non-library trees; sort the
   relative paths so the selection does not depend on the file system's order.
2. Order them by a seeded hash of the relative path (a deterministic shuffle that mixes
   packages), and read each file once.
3. From each file make two documents: its docstrings joined as prose (``ast``), and its
   source with the docstrings left in (code). Documents shorter than ``min_chars`` or longer
   than ``max_chars`` are cut/dropped; alternate prose and code so any prefix of the corpus
   has both.
4. Deal the documents in turn to disjoint parts (the SAEs' training text, the graph's text)
   until each part reaches its ``target_chars``; write each part as JSON lines
   (``{"text", "kind", "source"}``) — the ``text`` dataset source reads ``.jsonl`` files.

The corpus fingerprint (sha256 over the written file) lands in the bundle through the
dataset source, so a different Python version gives a visibly different dataset.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SKIP_PARTS = frozenset(
    {
        "test",
        "tests",
        "idlelib",
        "site-packages",
        "dist-packages",
        "lib2to3",
        "turtledemo",
        "__pycache__",
        "ensurepip",
        "tkinter",
        "pydoc_data",
        "encodings",
    }
)


@dataclass(frozen=True)
class Document:
    text: str
    kind: str  # "prose" | "code"
    source: str  # relative path of the stdlib file


def stdlib_dir() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_files(root: Path | None = None, seed: int = 0) -> list[Path]:
    """The library's ``.py`` files in a seeded, platform-independent order (steps 1-2)."""
    root = Path(root) if root is not None else stdlib_dir()
    rel = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if not SKIP_PARTS.intersection(p.relative_to(root).parts)
    )

    def key(r: str) -> str:
        return hashlib.sha256(f"{seed}:{r}".encode()).hexdigest()

    return [root / r for r in sorted(rel, key=key)]


def split_document(source: str) -> tuple[str, str]:
    """(prose, code) of one module: its docstrings joined, and the source itself."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return "", source
    docs = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            doc = ast.get_docstring(node)
            if doc and len(doc) > 40:
                docs.append(doc.strip())
    return "\n\n".join(docs), source


def iter_documents(
    root: Path | None = None, seed: int = 0, min_chars: int = 200, max_chars: int = 20_000
) -> Iterator[Document]:
    """Prose and code documents, alternating, in the deterministic file order (step 3)."""
    for path in stdlib_files(root, seed):
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        prose, code = split_document(source)
        rel = path.relative_to(root if root is not None else stdlib_dir()).as_posix()
        for kind, text in (("prose", prose), ("code", code)):
            text = text[:max_chars]
            if len(text) >= min_chars:
                yield Document(text, kind, rel)


def write_corpus(
    out_files: dict[str, str | Path], target_chars: dict[str, int], seed: int = 0, root: Path | None = None
) -> dict[str, dict]:
    """Write disjoint corpora as JSON lines (step 4), e.g. ``{"train": ..., "graph": ...}``.

    Files are dealt in turn to the parts that still want text (a file's prose and code go
    together), so the parts share no document (an SAE trained on one part is evaluated on text
    it has not seen). Returns, per part, its path, characters, documents per kind and the
    file's sha256.
    """
    parts = list(out_files)
    paths = {p: Path(out_files[p]) for p in parts}
    tmps = {p: paths[p].with_suffix(paths[p].suffix + ".tmp") for p in parts}
    info: dict[str, dict[str, Any]] = {p: {"chars": 0, "documents": {"prose": 0, "code": 0}} for p in parts}
    with contextlib.ExitStack() as stack:
        handles = {}
        for p in parts:
            paths[p].parent.mkdir(parents=True, exist_ok=True)
            handles[p] = stack.enter_context(open(tmps[p], "w", encoding="utf-8"))
        turn, last_source, part = 0, None, parts[0]
        for doc in iter_documents(root, seed):
            if doc.source != last_source:  # both documents of a file go to the same part
                open_parts = [p for p in parts if info[p]["chars"] < target_chars[p]]
                if not open_parts:
                    break
                part, last_source = open_parts[turn % len(open_parts)], doc.source
                turn += 1
            handles[part].write(json.dumps({"text": doc.text, "kind": doc.kind, "source": doc.source}) + "\n")
            info[part]["chars"] += len(doc.text)
            info[part]["documents"][doc.kind] += 1
    short = [p for p in parts if info[p]["chars"] == 0]
    if short:
        for t in tmps.values():
            t.unlink(missing_ok=True)
        raise FileNotFoundError(
            f"no Python sources found under {root or stdlib_dir()}: the demo corpus needs "
            "the standard library's .py files (some slim installs strip them)"
        )
    for p in parts:
        tmps[p].replace(paths[p])
        info[p].update(path=str(paths[p]), sha256=hashlib.sha256(paths[p].read_bytes()).hexdigest())
    return info
