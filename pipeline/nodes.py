"""The pipeline's stages, declared once: what each reads and writes, and the fingerprint that decides reuse.

A stage's output from an earlier run is reused only when the stage's fingerprint is the same. The fingerprint
covers what made the output: the source of the stage's module and of every package module it imports
(found by reading the imports, so a helper module added later is covered without anyone listing it), the
versions of the installed libraries those modules import, the stage's parameters, and the fingerprints of the
stages it reads from. Editing a stage's code therefore recomputes that stage and everything downstream of it;
editing a stage it does not import leaves it alone. No version number is kept by hand.

This module reads source files and package metadata only; it imports no stage, so any stage can use it.
"""
from __future__ import annotations

import ast
import hashlib
import sys
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PACKAGE_NAME = PACKAGE.name


@dataclass(frozen=True)
class Node:
    """One stage: its module and entry point, the tables it reads and writes, the settings it depends on."""
    name: str
    module: str
    function: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    parameters: tuple[str, ...] = ()
    # package data the stage renders from (folders under pipeline/): not imports, so named here to be covered
    data: tuple[str, ...] = ()


NODES: dict[str, Node] = {n.name: n for n in (
    Node("ingest", "ingest", "IngestRun.documents", ("corpus folder", "manifest.csv"),
         ("documents", "ingest_report")),
    Node("segment", "segment", "segment_document", ("documents",), ("passages",)),
    Node("tokenize", "tokenize", "tokenize_frame_passages", ("passages",), ("tokens",),
         ("the taxonomy's Chinese terms (jieba user dictionary)",)),
    Node("classify", "classify", "labels_frame", ("passages", "tokens"), ("labels",), ("taxonomy", "model")),
    Node("aggregate", "aggregate", "aggregate", ("documents", "passages", "labels", "ingest_report"),
         ("coverage_region", "coverage_region_long", "coverage_document", "coverage_document_long", "gaps",
          "region_ranking", "first_year", "coverage_by_year", "coded_passages", "evidence"), ("taxonomy",)),
    Node("report", "report", "summary_md, report_md, report_html, write_xlsx", ("aggregate tables", "evidence", "passages", "labels"),
         ("coverage.xlsx", "summary.md", "report.md", "report.html", "report_files/"), ("taxonomy",),
         data=("templates",)),
)}


def fingerprint(stage: str, *parameters: str, upstream: tuple[str, ...] = ()) -> str:
    """The stage's fingerprint: its code and libraries, these parameters, and the upstream fingerprints."""
    node = NODES[stage]
    h = hashlib.sha256(node.name.encode())
    h.update(code_digest(node.module).encode())
    for folder in node.data:
        for f in sorted((PACKAGE / folder).rglob("*")):
            if f.is_file():
                h.update(f.relative_to(PACKAGE).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    for part in (*parameters, "|", *upstream):
        h.update(part.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


def code_digest(module: str) -> str:
    """Digest of a package module's source, the sources of the package modules it imports (at any depth, also
    inside functions) and the versions of the libraries they import."""
    modules = sorted(package_closure(module))
    h = hashlib.sha256()
    for m in modules:
        h.update(m.encode() + b"\0" + _source(m) + b"\0")
    for dist, version in library_versions(modules):
        h.update(f"{dist}=={version}\0".encode())
    return h.hexdigest()


def package_closure(module: str) -> set[str]:
    """The package modules `module` runs: itself and, transitively, every package module it imports."""
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(_imports(m)[0])
    return seen


def library_versions(modules) -> list[tuple[str, str]]:
    """(distribution, version) of the installed libraries these package modules import."""
    return _library_versions(tuple(sorted(modules)))


@lru_cache(maxsize=None)  # installed versions do not change while a run lasts; looking them up is slow
def _library_versions(modules: tuple[str, ...]) -> list[tuple[str, str]]:
    dists = set()
    names = _distributions()
    for m in modules:
        for top in _imports(m)[1]:
            dists.update(names.get(top, ()))
    out = []
    for d in sorted(dists):
        try:
            out.append((d, metadata.version(d)))
        except metadata.PackageNotFoundError:
            pass
    return out


@lru_cache(maxsize=None)
def _source(module: str) -> bytes:
    return (PACKAGE / f"{module}.py").read_bytes()


@lru_cache(maxsize=None)
def _imports(module: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(package modules, top-level names of other modules) imported anywhere in `module`."""
    ours, theirs = set(), set()
    for node in _statements(ast.parse(_source(module))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 or (node.level == 0 and (node.module or "").split(".")[0] == PACKAGE_NAME):
                base = (node.module or "").removeprefix(PACKAGE_NAME).lstrip(".")
                if base:
                    ours.add(base.split(".")[0])
                else:  # from . import a, b
                    ours.update(a.name for a in node.names)
            elif node.level == 0 and node.module:
                theirs.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                if top == PACKAGE_NAME and "." in a.name:
                    ours.add(a.name.split(".")[1])
                elif top != PACKAGE_NAME:
                    theirs.add(top)
    ours = {m for m in ours if (PACKAGE / f"{m}.py").is_file()}
    theirs -= set(sys.stdlib_module_names)
    return tuple(sorted(ours)), tuple(sorted(theirs))


def _statements(tree: ast.AST):
    """Every statement of a module at any depth (imports are statements: expressions need not be visited)."""
    todo = [tree]
    while todo:
        for child in ast.iter_child_nodes(todo.pop()):
            if isinstance(child, (ast.stmt, ast.excepthandler, ast.match_case)):
                yield child
                todo.append(child)


@lru_cache(maxsize=1)
def _distributions() -> dict[str, tuple[str, ...]]:
    return {k: tuple(v) for k, v in metadata.packages_distributions().items()}
