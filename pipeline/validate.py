"""`python -m pipeline validate` / `make validate TAXONOMY=...`: check a framework before running it.

Loading the taxonomy already checks its YAML (the loader names the file and the node); this also checks the
strength cues it will use and its examples (`examples/*.jsonl` beside taxonomy.yaml): every line readable, every
label a leaf of the framework, and enough examples for the default model to learn at least half of the leaves
(the rule `make train` applies). Problems are printed one per line, naming the file; the exit status is 2 if
there is any, 0 otherwise. Warnings (a leaf without examples, an example without
labels, a term listed twice in one node, a group with no leaves) do not fail the check.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .classify import examples_paths, leaf_examples, read_coded
from .io import ConfigError
from .strength import load_strength, strength_path
from .taxonomy import Taxonomy, TaxonomyError, ignores_case, load_taxonomy


def check_framework(t: Taxonomy) -> tuple[list[str], list[str]]:
    """(problems, warnings) of one loaded framework beyond what loading checks."""
    problems, warnings = [], []
    try:
        load_strength(taxonomy=t)
    except TaxonomyError as exc:
        problems.append(str(exc))
    for g in t.groups:
        if not t.child_ids(g.id):
            warnings.append(f"{t.path}: node '{g.id}': a group with no leaves under it (none names it as parent): "
                            f"it is never labelled, so every region's count of it is 0")
    for n in t.leaves:
        if not n.definition:
            warnings.append(f"{t.path}: node '{n.id}': no definition (shown to coders and in gap lists)")
        warnings += [f"{t.path}: node '{n.id}': {where} lists {entry!r} more than once" for where, entry in _repeated(n)]
        warnings += [f"{t.path}: node '{n.id}': {where} {entry!r} holds a space: Chinese text runs its words "
                     f"together, so it matches only where a document has a space there"
                     for where, entry in _spaced_chinese(n)]
    folder = Path(t.path).parent
    paths = examples_paths(folder)
    if not paths:
        warnings.append(f"{folder}/examples: no *.jsonl examples; the lexicon alone will classify")
        return problems, warnings
    try:
        coded = read_coded(paths)
    except ConfigError as exc:
        problems.append(str(exc))
        return problems, warnings
    warnings += _unlabelled(paths)
    leaves = set(t.leaf_ids)
    for pid, src, labels in zip(coded["id"], coded["source"], coded["labels"]):
        bad = [l for l in labels if l not in leaves]
        if bad:
            problems.append(f"{folder / 'examples' / src}: example '{pid}': label(s) {', '.join(bad)} are not leaves "
                            f"of {t.path}")
    counts, need, learnable = leaf_examples(t, coded["labels"])
    if learnable < len(t.leaf_ids) / 2:
        problems.append(f"{folder}/examples: only {learnable} of {len(t.leaf_ids)} leaves have >= {need} examples; "
                        f"a model needs at least half of them (make train refuses fewer)")
    for nid, c in zip(t.leaf_ids, counts):
        if c < need:
            warnings.append(f"{folder}/examples: node '{nid}' has {int(c)} example(s) (< {need}): the model will "
                            f"not learn it, its lexicon decides")
    langs = set(coded["lang"])
    for lang in ("zh", "en"):
        if lang not in langs:
            warnings.append(f"{folder}/examples: no {lang} example")
    return problems, warnings


def _unlabelled(paths: list[Path]) -> list[str]:
    """Example lines without a `labels` key (forgotten, or misspelt `label`): read as passages that use no node,
    they teach the model a negative the coder may not have meant. The lines were read once already
    (`read_coded`), so each parses."""
    out = []
    for p in paths:
        for n, line in enumerate(p.read_text(encoding="utf-8-sig").splitlines(), start=1):
            r = json.loads(line) if line.strip() else None
            if isinstance(r, dict) and r.get("labels") is None:
                out.append(f"{p} line {n}: no 'labels': read as a passage that uses no node (write \"labels\": [] "
                           f"for such a passage, or the leaf IDs it codes)")
    return out


def _spaced_chinese(node) -> list[tuple[str, str]]:
    """(place, term) of every Chinese term of a node with a space inside it ("技术 转移", as typed between two
    words of English): such a term passed validate and matched no document's 技术转移."""
    lex = node.lexicon.get("zh")
    if lex is None:
        return []
    return [(f"lexicon.zh.{place} term", e) for place, entries in _places(lex) if not place.endswith("patterns")
            for e in entries if any(c.isspace() for c in e.strip())]


def _places(lex) -> list[tuple[str, tuple[str, ...]]]:
    """(place, entries) of each list of a lexicon: its terms, patterns, excluded terms and each rule's lists."""
    places = [("terms", lex.terms), ("patterns", lex.patterns), ("exclude", lex.exclude)]
    return places + [(f"rules[{i}].{k}", getattr(r, k)) for i, r in enumerate(lex.rules)
                     for k in ("terms", "patterns", "context")]


def _repeated(node) -> list[tuple[str, str]]:
    """(place, entry) of every lexicon entry a node lists twice in one place: harmless to the labels (the
    matcher merges the hits), but a sign that two editors wrote the same term, and a second edit would miss one
    copy. English is compared without case, as it is matched."""
    out = []
    for lang, lex in node.lexicon.items():
        for place, entries in _places(lex):
            seen = set()
            for e in entries:
                key = e.casefold() if ignores_case(lang) else e
                if key in seen:
                    out.append((f"lexicon.{lang}.{place}", e))
                seen.add(key)
    return out


def validate_cli(args) -> None:
    try:
        tax = load_taxonomy(args.taxonomy)
    except TaxonomyError as exc:
        raise ConfigError(f"validate: {exc}") from None
    problems, warnings = [], []
    for t in tax.parts:
        p, w = check_framework(t)
        problems += p
        warnings += w
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        raise SystemExit(2)

    for t in tax.parts:
        facets = ", ".join(f"{f.id} ({sum(1 for n in t.leaves if n.facet == f.id)})" for f in t.facets)
        print(f"validate: {t.path}: framework '{t.id}' OK: {len(t.leaves)} leaves in facets {facets}; "
              f"gap audit on {', '.join(t.audit.facets)}; strength cues from {strength_path(t)}", file=sys.stderr)
