"""The paper's taxonomy, loaded from YAML and validated.

The taxonomy is data: nodes, names, definitions, lexicons and passage rules all live in
`taxonomy/taxonomy.yaml`. This module only reads and checks it; a bad file fails with the offending
node named.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .io import ConfigError

LANGS = ("zh", "en")
FACETS = ("model", "constraint", "measure")


class TaxonomyError(ConfigError):
    pass


@dataclass(frozen=True)
class LexiconRule:
    """Weak terms/patterns that count only when a context term occurs in the same passage."""
    terms: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    context: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lexicon:
    terms: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    rules: tuple[LexiconRule, ...] = ()
    exclude: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.terms or self.patterns or any(r.terms or r.patterns for r in self.rules))


@dataclass(frozen=True)
class Node:
    id: str
    facet: str
    name: dict
    parent: str | None = None
    group: bool = False
    pairs_with: str | None = None
    section: str = ""
    definition: str = ""
    recommendation: str = ""
    recommendation_zh: str = ""
    lexicon: dict = field(default_factory=dict)  # lang -> Lexicon

    @property
    def is_leaf(self) -> bool:
        return not self.group


@dataclass(frozen=True)
class PassageRule:
    """A coding convention over a whole passage: when it fires, only `allow` nodes may be labelled."""
    id: str
    lang: str
    patterns: tuple[str, ...]
    allow: frozenset[str]


@dataclass(frozen=True)
class Taxonomy:
    version: str
    nodes: tuple[Node, ...]
    passage_rules: tuple[PassageRule, ...]
    path: str
    sha256: str
    # words of the policy domain (per language) that make a passage worth scoring even where no node's own
    # vocabulary occurs; a passage with neither is not scored by the model
    domain_terms: dict = field(default_factory=dict)

    @property
    def by_id(self) -> dict[str, Node]:
        return {n.id: n for n in self.nodes}

    @property
    def leaves(self) -> list[Node]:
        return [n for n in self.nodes if n.is_leaf]

    @property
    def leaf_ids(self) -> list[str]:
        return [n.id for n in self.leaves]

    @property
    def groups(self) -> list[Node]:
        return [n for n in self.nodes if n.group]

    def children(self, group_id: str) -> list[str]:
        return [n.id for n in self.nodes if n.parent == group_id]

    def facet_ids(self, facet: str, *, leaves_only: bool = True) -> list[str]:
        return [n.id for n in self.nodes if n.facet == facet and (n.is_leaf or not leaves_only)]

    def all_terms(self, lang: str) -> set[str]:
        """Every literal term of a language (used to keep them whole in the tokenizer)."""
        out: set[str] = set()
        for n in self.leaves:
            lex = n.lexicon.get(lang)
            if lex:
                out.update(t.rstrip("*") for t in lex.terms)
                for r in lex.rules:
                    out.update(t.rstrip("*") for t in r.terms)
        return {t for t in out if t}


def _strs(value, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TaxonomyError(f"{where}: expected a list of non-empty strings")
    return tuple(value)


def _compile(patterns: tuple[str, ...], where: str) -> None:
    for p in patterns:
        try:
            re.compile(p)
        except re.error as exc:
            raise TaxonomyError(f"{where}: pattern {p!r} does not compile: {exc}") from None


def _lexicon(raw, where: str) -> Lexicon:
    if not isinstance(raw, dict):
        raise TaxonomyError(f"{where}: expected a mapping with terms/patterns/rules/exclude")
    unknown = set(raw) - {"terms", "patterns", "rules", "exclude"}
    if unknown:
        raise TaxonomyError(f"{where}: unknown key(s) {sorted(unknown)}")
    rules = []
    for i, r in enumerate(raw.get("rules") or []):
        rw = f"{where}.rules[{i}]"
        if not isinstance(r, dict):
            raise TaxonomyError(f"{rw}: expected a mapping")
        rule = LexiconRule(_strs(r.get("terms"), rw + ".terms"), _strs(r.get("patterns"), rw + ".patterns"),
                           _strs(r.get("context"), rw + ".context"))
        if not rule.context:
            raise TaxonomyError(f"{rw}: a rule needs context terms (else put its terms under terms)")
        _compile(rule.patterns, rw)
        rules.append(rule)
    lex = Lexicon(_strs(raw.get("terms"), where + ".terms"), _strs(raw.get("patterns"), where + ".patterns"),
                  tuple(rules), _strs(raw.get("exclude"), where + ".exclude"))
    _compile(lex.patterns, where)
    return lex


_LOADED: dict[tuple[str, str], Taxonomy] = {}
# libyaml's safe loader when PyYAML was built with it (same safety, ~10x faster than the pure-Python one)
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Load and validate a taxonomy file (or a folder holding taxonomy.yaml)."""
    path = Path(path)
    if path.is_dir():
        path = path / "taxonomy.yaml"
    if not path.is_file():
        raise TaxonomyError(f"{path}: taxonomy file not found")
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise TaxonomyError(f"{path}: taxonomy file cannot be read ({exc.strerror or exc})") from None
    key = (str(path), hashlib.sha256(raw_bytes).hexdigest())
    if key not in _LOADED:
        _LOADED[key] = _parse(path, raw_bytes)
    return _LOADED[key]


def _parse(path: Path, raw_bytes: bytes) -> Taxonomy:
    try:
        raw = yaml.load(raw_bytes, Loader=_SafeLoader)
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), list):
        raise TaxonomyError(f"{path}: expected a mapping with a 'nodes' list")

    nodes: list[Node] = []
    seen: set[str] = set()
    for i, rn in enumerate(raw["nodes"]):
        if not isinstance(rn, dict) or not isinstance(rn.get("id"), str):
            raise TaxonomyError(f"{path}: nodes[{i}] has no string 'id'")
        nid = rn["id"]
        where = f"{path}: node '{nid}'"
        if nid in seen:
            raise TaxonomyError(f"{where}: duplicate id")
        seen.add(nid)
        if rn.get("facet") not in FACETS:
            raise TaxonomyError(f"{where}: facet must be one of {FACETS}, got {rn.get('facet')!r}")
        name = rn.get("name") or {}
        if not isinstance(name, dict) or set(name) != set(LANGS) or not all(
                isinstance(name[l], str) and name[l].strip() for l in LANGS):
            raise TaxonomyError(f"{where}: name needs exactly en and zh (quote names that contain commas)")
        group = bool(rn.get("group", False))
        lexicon = {}
        for lang, lraw in (rn.get("lexicon") or {}).items():
            if lang not in LANGS:
                raise TaxonomyError(f"{where}: lexicon language {lang!r} is not one of {LANGS}")
            lexicon[lang] = _lexicon(lraw, f"{where}: lexicon.{lang}")
        if not group:
            for lang in LANGS:
                if lang not in lexicon or lexicon[lang].empty:
                    raise TaxonomyError(f"{where}: leaf has no {lang} terms or patterns")
        nodes.append(Node(
            id=nid, facet=rn["facet"], name=name, parent=rn.get("parent"), group=group,
            pairs_with=rn.get("pairs_with"), section=str(rn.get("section", "")),
            definition=str(rn.get("definition", "")).strip(),
            recommendation=str(rn.get("recommendation", "")).strip(),
            recommendation_zh=str(rn.get("recommendation_zh", "")).strip(),
            lexicon=lexicon,
        ))

    ids = {n.id for n in nodes}
    for n in nodes:
        for ref, what in ((n.parent, "parent"), (n.pairs_with, "pairs_with")):
            if ref is not None and ref not in ids:
                raise TaxonomyError(f"{path}: node '{n.id}': {what} '{ref}' does not exist")
        if n.parent is not None and not next(p for p in nodes if p.id == n.parent).group:
            raise TaxonomyError(f"{path}: node '{n.id}': parent '{n.parent}' is not a group")

    rules = []
    for i, rr in enumerate(raw.get("passage_rules") or []):
        where = f"{path}: passage_rules[{i}]"
        if not isinstance(rr, dict) or not isinstance(rr.get("id"), str):
            raise TaxonomyError(f"{where}: needs an id")
        where = f"{path}: passage rule '{rr['id']}'"
        if rr.get("lang") not in LANGS:
            raise TaxonomyError(f"{where}: lang must be one of {LANGS}")
        pats = _strs(rr.get("patterns"), where)
        _compile(pats, where)
        allow = _strs(rr.get("allow"), where + ".allow")
        for a in allow:
            if a not in ids:
                raise TaxonomyError(f"{where}: allow names unknown node '{a}'")
        rules.append(PassageRule(rr["id"], rr["lang"], pats, frozenset(allow)))

    domain = raw.get("domain_terms") or {}
    if not isinstance(domain, dict) or set(domain) - set(LANGS):
        raise TaxonomyError(f"{path}: domain_terms must map {' / '.join(LANGS)} to lists of terms")
    domain_terms = {lang: _strs(domain.get(lang), f"{path}: domain_terms.{lang}") for lang in LANGS}

    return Taxonomy(
        domain_terms=domain_terms,
        version=str(raw.get("version", "0")), nodes=tuple(nodes), passage_rules=tuple(rules),
        path=str(path), sha256=hashlib.sha256(raw_bytes).hexdigest(),
    )
