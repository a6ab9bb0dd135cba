"""The paper's taxonomy, loaded from YAML and validated.

The taxonomy is data: nodes, names, definitions, lexicons and passage rules all live in
`taxonomy/taxonomy.yaml`. This module only reads and checks it; a bad file fails with the offending
node named.
"""
from __future__ import annotations

import difflib
import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml
import re2

from .io import ConfigError
from .regex_syntax import ops, parse
from .text import normalise, simplified

LANGS = ("zh", "en")
# several frameworks in one run: TAXONOMY=taxonomy,taxonomy/policy_tools
SEPARATOR = ","


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
    framework: str = ""  # the id of the framework (taxonomy file) the node belongs to

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
class Facet:
    """A dimension of a framework (cooperation models, policy tools of the supply side, ...), with the nouns the
    reports use for its nodes."""
    id: str
    name: dict            # en / zh: the facet's heading
    item: str = "node"    # one of its nodes, in running English text ("cooperation model")
    items: str = "nodes"  # several ("cooperation models")


@dataclass(frozen=True)
class Audit:
    """What the gap audit is about: the facets whose leaves a region is expected to address (ranked, listed as
    missing), the facets only counted and shown beside them, and the words the reports use for them."""
    facets: tuple[str, ...]
    also: tuple[str, ...] = ()
    column: str = "node"        # stem of the count columns: <column>s_addressed, <column>_coverage, ...
    item: str = "node"          # "recommendation"
    items: str = "nodes"        # "recommendations"
    owner: str = "the framework's"   # "the paper's recommendations"
    guidance: str = "Framework"      # label before a node's recommendation (or definition) in a gap list


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
    id: str = ""
    name: dict = field(default_factory=dict)   # en / zh
    title: str = ""                             # the report's heading
    cite: str = ""                              # who the framework is by ("Liu et al."), "" if nobody in particular
    facets: tuple[Facet, ...] = ()
    audit: Audit = Audit(facets=())
    # several frameworks loaded together: the parts, in the order given (empty for one framework)
    frameworks: tuple["Taxonomy", ...] = ()

    @property
    def parts(self) -> tuple["Taxonomy", ...]:
        """The frameworks of this taxonomy: itself, or the frameworks loaded together."""
        return self.frameworks or (self,)

    @property
    def facet_by_id(self) -> dict[str, Facet]:
        return {f.id: f for t in self.parts for f in t.facets}

    def audit_leaves(self) -> list[Node]:
        """The leaves the gap audit is about (of one framework)."""
        return [n for n in self.nodes if n.facet in self.audit.facets and not n.group]

    def also_facets(self) -> list[tuple[Facet, list[Node]]]:
        """The facets counted beside the audited ones, each with its leaves (of one framework)."""
        fb = self.facet_by_id
        return [(fb[f], [n for n in self.nodes if n.facet == f and not n.group]) for f in self.audit.also]

    def shown_ids(self) -> set[str]:
        """Leaves of every framework that the gap audit and the report show (audited and also-shown facets)."""
        return {n.id for t in self.parts for n in t.nodes
                if not n.group and (n.facet in t.audit.facets or n.facet in t.audit.also)}

    def framework_of(self, node_id: str) -> "Taxonomy":
        for t in self.parts:
            if any(n.id == node_id for n in t.nodes):
                return t
        raise KeyError(node_id)

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

    def child_ids(self, group_id: str) -> list[str]:
        return [n.id for n in self.nodes if n.parent == group_id]

    def leaf_meant(self, value: str) -> str | None:
        """The leaf a mistyped node ID most likely means (other letter case, a space for '_' or '.', a slip of a
        letter or two, or the leaf's name in either language, as the review sheet lists it), or None: said beside
        an unknown ID so that a coder need not look it up."""
        key = re.sub(r"[\s_.]+", "", value).casefold()
        same = [n for n in self.leaf_ids if re.sub(r"[_.]+", "", n).casefold() == key]
        if same:
            return same[0]
        named = [n.id for n in self.leaves
                 if any(re.sub(r"[\s_.]+", "", str(name)).casefold() == key for name in n.name.values())]
        if named:
            return named[0]
        close = difflib.get_close_matches(value.strip().lower(), self.leaf_ids, n=1, cutoff=0.85)
        return close[0] if close else None

    def facet_ids(self, facet: str) -> list[str]:
        """The IDs of a facet's leaves."""
        return [n.id for n in self.leaves if n.facet == facet]

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
    if not isinstance(value, list):
        raise TaxonomyError(f"{where}: expected a list of non-empty strings")
    # which entry: in a list of twenty terms an unquoted 973 or yes (read by YAML as a number, a boolean) is
    # hard to see
    for i, v in enumerate(value, start=1):
        if isinstance(v, bool):
            raise TaxonomyError(f"{where}: entry {i} is read by YAML as {v}, not a text (an unquoted yes, no, on, "
                                f"off, true or false): quote it")
        if isinstance(v, (int, float)):
            raise TaxonomyError(f"{where}: entry {i}, {v}, is a number, not a text: quote it (\"{v}\")")
        if not isinstance(v, str):
            raise TaxonomyError(f"{where}: entry {i} is not a text (a {type(v).__name__}): expected a list of "
                                f"non-empty strings")
        if not v.strip():
            raise TaxonomyError(f"{where}: entry {i} is empty: expected a list of non-empty strings")
    return tuple(value)


def _terms(value, where: str, lang: str) -> tuple[str, ...]:
    """Literal terms as the text they match is coded: normalised as documents are (NFKC: full-width letters
    typed with a Chinese input method become ASCII; zero-width characters dropped), without the spaces a quoted
    term kept around it, and a Chinese term also in Simplified (`_with_simplified`). Each must keep some text once
    the glob '*' is taken away, else it passed every check and matched nothing."""
    terms = []
    for t in _strs(value, where):
        term = normalise(t).strip()
        if not term.rstrip("*").strip():
            raise TaxonomyError(f"{where}: term {t!r} has no text (a word or phrase, with a '*' only at its end)")
        terms.append(term)
    return _with_simplified(terms, lang)


def _patterns(value, where: str, lang: str) -> tuple[str, ...]:
    """Regexes, a Chinese one also in Simplified (its Han characters converted; the syntax is ASCII)."""
    return _with_simplified(_strs(value, where), lang)


def _with_simplified(entries, lang: str) -> tuple[str, ...]:
    """`entries`, each Chinese one followed by its Simplified form where that differs: a term or pattern written
    in Traditional characters never matched a Traditional document, which is coded in Simplified (the entry as
    written still matches where such text was left as it is)."""
    out = []
    for e in entries:
        out.append(e)
        if lang == "zh" and (s := simplified(e)) != e:
            out.append(s)
    return tuple(out)


# ----------------------------------------------------------------------------------------- patterns
#
# A taxonomy pattern runs over every passage of the corpus. Python's re backtracks, so a pattern like (a+)+$
# takes exponential time on a passage that almost matches; RE2 (google-re2) runs any pattern it accepts in time
# linear in the text. Patterns are written in Python's syntax; compile_pattern runs them on Python's engine where
# their backtracking is bounded, and on RE2's, with Python's meaning of the character classes, where it is not.


class PatternError(ValueError):
    """A pattern that can run on neither engine safely (the message says why)."""


# Python's \d \w \s on str patterns are Unicode classes; RE2's are ASCII: these are Python's, in RE2 syntax
# (checked code point by code point against Python's; they differ only on code points Python's Unicode
# database does not assign)
_SPACE = r"\t-\r\x{1c}-\x{20}\x{85}\p{Z}"
_WORD = r"\p{L}\p{N}_"
_CLASS_ESCAPES = {"d": (r"\p{Nd}", r"\p{Nd}"), "D": (r"\P{Nd}", r"\P{Nd}"),
                  "w": (f"[{_WORD}]", _WORD), "W": (f"[^{_WORD}]", None),
                  "s": (f"[{_SPACE}]", _SPACE), "S": (f"[^{_SPACE}]", None)}
_QUANTIFIER_FROM_ZERO = re.compile(r"\{,(\d+)\}")


def _to_re2(pattern: str) -> str:
    r"""`pattern` (Python syntax) in RE2 syntax with the same meaning, as far as RE2 can say it.

    What stays different: \b and \B are ASCII word boundaries in RE2 (Unicode ones in Python), and $ matches
    only at the very end (Python's also before a final newline)."""
    out: list[str] = []
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            e = pattern[i + 1]
            i += 2
            if e in _CLASS_ESCAPES:
                outside, inside = _CLASS_ESCAPES[e]
                if in_class and inside is None:
                    raise PatternError(f"uses \\{e} inside a character class, which RE2 cannot say with "
                                       f"Unicode meaning; use a negated class [^...] instead")
                out.append(inside if in_class else outside)
            elif e == "Z":
                out.append(r"\z")
            elif e in "uU":
                width = 4 if e == "u" else 8
                digits = pattern[i:i + width]
                if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                    raise PatternError(f"has a malformed \\{e} escape")
                out.append(f"\\x{{{digits}}}")
                i += width
            elif e == "N" and i < n and pattern[i] == "{":
                end = pattern.find("}", i)
                try:
                    out.append(f"\\x{{{ord(unicodedata.lookup(pattern[i + 1:end])):x}}}")
                except KeyError:
                    raise PatternError("has an unknown \\N{...} character name") from None
                i = end + 1
            else:
                out.append(c + e)
            continue
        if in_class:
            if c == "]" and not (out and out[-1] in ("[", "[^")):
                in_class = False
            elif c == "[" and pattern.startswith("[:", i):
                out.append("\\[")  # Python reads [: literally; RE2 would take [:alpha:] as a POSIX class
                i += 1
                continue
            out.append(c)
        elif c == "[":
            in_class = True
            if pattern.startswith("[^", i):
                out.append("[^")
                i += 2
                continue
            out.append(c)
        elif c == "{":
            m = _QUANTIFIER_FROM_ZERO.match(pattern, i)
            out.append(f"{{0,{m.group(1)}}}" if m else c)  # RE2 has no {,n}
            if m:
                i = m.end()
                continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


@functools.lru_cache(maxsize=None)
def _re2_options(ignore_case: bool):
    opts = re2.Options()
    opts.log_errors = False  # a refused pattern is reported once, as a TaxonomyError, not logged by RE2
    opts.case_sensitive = not ignore_case
    return opts


def _re2(pattern: str, ignore_case: bool):
    return re2.compile(_to_re2(pattern), _re2_options(ignore_case))


# A pattern RE2 refuses (lookarounds: (?<!...), (?!...)) runs on Python's engine only when its backtracking is
# bounded by a constant: no unbounded or nested repetition, no backreference, and at most this many ways for
# the pattern to try to match at one position
MAX_BACKTRACKING_PATHS = 1_000_000
_REPEATS = (ops.MAX_REPEAT, ops.MIN_REPEAT, ops.POSSESSIVE_REPEAT)


def _paths(items) -> float:
    """An upper bound on the ways Python's engine can try to match the parsed pattern `items` at one position;
    inf when unbounded."""
    total = 1.0
    for op, av in items:
        if op in _REPEATS:
            lo, hi, body = av
            if hi == ops.MAXREPEAT or any(o in _REPEATS for o, _ in _flatten(body)):
                return float("inf")
            inner = _paths(body)
            total *= (hi + 1) if inner == 1 else sum(inner ** j for j in range(hi + 1))
        elif op == ops.BRANCH:
            total *= sum(_paths(alt) for alt in av[1])
        elif op in (ops.SUBPATTERN, ops.ATOMIC_GROUP):
            total *= _paths(av[-1])
        elif op in (ops.ASSERT, ops.ASSERT_NOT):
            total *= _paths(av[1])
        elif op in (ops.GROUPREF, ops.GROUPREF_EXISTS):
            return float("inf")  # backreferences make matching NP-hard
        if total > MAX_BACKTRACKING_PATHS:
            return float("inf")
    return total


def _flatten(items):
    for op, av in items:
        yield op, av
        if op in _REPEATS:
            yield from _flatten(av[2])
        elif op == ops.BRANCH:
            for alt in av[1]:
                yield from _flatten(alt)
        elif op in (ops.SUBPATTERN, ops.ATOMIC_GROUP):
            yield from _flatten(av[-1])
        elif op in (ops.ASSERT, ops.ASSERT_NOT):
            yield from _flatten(av[1])
        elif op == ops.GROUPREF_EXISTS:
            yield from _flatten(av[1])
            if av[2] is not None:
                yield from _flatten(av[2])


def ignores_case(lang: str) -> bool:
    """Whether the lexicon matches `lang`'s terms and patterns without regard to case (English; Chinese has none)."""
    return lang == "en"


@functools.lru_cache(maxsize=4096)
def compile_pattern(pattern: str, ignore_case: bool = False):
    """A taxonomy pattern (Python syntax) compiled to run without catastrophic backtracking: on Python's re when
    the pattern's backtracking is bounded (see _paths), else on RE2 when it accepts the pattern (the result has
    `pattern`, `search`, `match`, `finditer`, `findall` like re's, and its matches `start()`, `end()`, `group()`
    in str offsets). Raises PatternError (why, without the pattern) otherwise.

    Python's engine goes first because a call on it costs a fraction of one on RE2, and RE2's automaton for a long
    counted repetition of a non-ASCII class (the penalty convention's 违反本条例[^。]{0,200}?…罚款) outgrows its
    memory budget and falls back to a simulation two hundred times slower than re on the same passages.

    Kept once compiled (RE2 compiles slowly: ~0.3 ms a pattern), so the matcher gets the objects the taxonomy
    check built."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise PatternError(f"does not compile: {exc}") from None
    if _paths(parse(pattern)) <= MAX_BACKTRACKING_PATHS:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    try:
        return _RE2Pattern(pattern, _re2(pattern, ignore_case))
    except re2.error as exc:
        why = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
    raise PatternError(f"cannot run on RE2 ({why}) and could backtrack without bound on Python's engine "
                       f"(unbounded or nested repetition, or a backreference); write it without lookarounds or "
                       f"without those")


class _RE2Pattern:
    """An RE2 regular expression that keeps the pattern as written (the lexicon reads literals out of it)."""

    __slots__ = ("pattern", "_rx")

    def __init__(self, pattern: str, rx):
        self.pattern, self._rx = pattern, rx

    def search(self, text, pos=None, endpos=None):
        return self._rx.search(text, pos, endpos)

    def match(self, text, pos=None, endpos=None):
        return self._rx.match(text, pos, endpos)

    def finditer(self, text, pos=None, endpos=None):
        return self._rx.finditer(text, pos, endpos)

    def findall(self, text, pos=None, endpos=None):
        return self._rx.findall(text, pos, endpos)

    def __reduce__(self):  # worker processes compile it again rather than receive RE2's C++ object
        return _unpickle_re2, (self.pattern, self._rx.options.case_sensitive)

    def __repr__(self) -> str:
        return f"compile_pattern({self.pattern!r}) [RE2]"


def _unpickle_re2(pattern: str, case_sensitive: bool) -> _RE2Pattern:
    return compile_pattern(pattern, not case_sensitive)


def _check_patterns(patterns: tuple[str, ...], where: str, ignore_case: bool = False) -> None:
    """Refuse a pattern compile_pattern cannot run safely, naming where it stands (compiling keeps it in
    compile_pattern's cache for the matcher)."""
    for p in patterns:
        try:
            compile_pattern(p, ignore_case)
        except PatternError as exc:
            raise TaxonomyError(f"{where}: pattern {p!r} {exc}") from None


def _lexicon(raw, where: str, lang: str) -> Lexicon:
    ignore_case = ignores_case(lang)
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
        rule = LexiconRule(_terms(r.get("terms"), rw + ".terms", lang),
                           _patterns(r.get("patterns"), rw + ".patterns", lang),
                           _terms(r.get("context"), rw + ".context", lang))
        if not rule.context:
            raise TaxonomyError(f"{rw}: a rule needs context terms (else put its terms under terms)")
        _check_patterns(rule.patterns, rw, ignore_case)
        rules.append(rule)
    lex = Lexicon(_terms(raw.get("terms"), where + ".terms", lang),
                  _patterns(raw.get("patterns"), where + ".patterns", lang),
                  tuple(rules), _terms(raw.get("exclude"), where + ".exclude", lang))
    _check_patterns(lex.patterns, where, ignore_case)
    return lex


def _node_lexicon(raw, where: str, group: bool) -> dict[str, Lexicon]:
    """A node's lexicon of each language it gives; a leaf needs terms or patterns in every language (a group's
    labels roll up from its leaves, so it may have none)."""
    lexicon = {}
    raw = raw or {}
    if not isinstance(raw, dict):
        raise TaxonomyError(f"{where}: lexicon: expected a mapping of zh and en to their terms "
                            f"(lexicon: {{zh: {{terms: [...]}}, en: {{terms: [...]}}}})")
    for lang, lraw in raw.items():
        if lang not in LANGS:
            raise TaxonomyError(f"{where}: lexicon language {lang!r} is not one of {LANGS}")
        lexicon[lang] = _lexicon(lraw, f"{where}: lexicon.{lang}", lang)
    if not group:
        for lang in LANGS:
            if lang not in lexicon or lexicon[lang].empty:
                raise TaxonomyError(f"{where}: leaf has no {lang} terms or patterns")
    return lexicon


_LOADED: dict[tuple[str, str], Taxonomy] = {}
# several frameworks by their paths joined by commas: reused while each part's file is the one it was made of
_LOADED_COMBINED: dict[str, Taxonomy] = {}
# libyaml's safe loader when PyYAML was built with it (same safety, ~10x faster than the pure-Python one)
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Load and validate a taxonomy file (or a folder holding taxonomy.yaml); several, separated by commas
    (`taxonomy,taxonomy/policy_tools`), are loaded as frameworks of one run (see `combine`)."""
    if isinstance(path, str) and SEPARATOR in path:
        parts = [p.strip() for p in path.split(SEPARATOR) if p.strip()]
        if len(parts) > 1:
            return combine([load_taxonomy(p) for p in parts])
        path = parts[0] if parts else path
    path = Path(path)
    if path.is_dir():
        path = path / "taxonomy.yaml"
    if not path.is_file():
        where = "" if path.is_absolute() else f" (looked for {path.absolute()}; give --taxonomy / TAXONOMY=)"
        raise TaxonomyError(f"{path}: taxonomy file not found{where}")
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise TaxonomyError(f"{path}: taxonomy file cannot be read ({exc.strerror or exc})") from None
    key = (str(path), hashlib.sha256(raw_bytes).hexdigest())
    if key not in _LOADED:
        _LOADED[key] = _parse(path, raw_bytes)
    return _LOADED[key]


def combine(parts: list[Taxonomy]) -> Taxonomy:
    """Several frameworks as one taxonomy: their nodes one after another (IDs must differ), each node keeping
    its framework; `frameworks` holds the parts, which the classifier, the gap audit and the report use one by
    one. Its path is the parts' paths joined by commas, so it loads again from it."""
    key = SEPARATOR.join(t.path for t in parts)
    if key in _LOADED_COMBINED:
        got = _LOADED_COMBINED[key]
        if tuple(t.sha256 for t in got.frameworks) == tuple(t.sha256 for t in parts):
            return got
    seen_ids: dict[str, str] = {}
    seen_nodes: dict[str, str] = {}
    seen_facets: dict[str, str] = {}
    seen_columns: dict[str, str] = {}  # stems of the ranking's count columns: <stem>s_addressed, <stem>_coverage
    for t in parts:
        if t.id in seen_ids:
            raise TaxonomyError(f"{t.path}: framework id '{t.id}' is also that of {seen_ids[t.id]}; give one of them "
                                f"another id (framework: id: ...)")
        seen_ids[t.id] = t.path
        for n in t.nodes:
            if n.id in seen_nodes:
                raise TaxonomyError(f"{t.path}: node '{n.id}' is also a node of {seen_nodes[n.id]}; node IDs must "
                                    f"differ between the frameworks of one run")
            seen_nodes[n.id] = t.path
        for f in t.facets:
            if f.id in seen_facets:
                raise TaxonomyError(f"{t.path}: facet '{f.id}' is also a facet of {seen_facets[f.id]}; facet IDs "
                                    f"must differ between the frameworks of one run")
            seen_facets[f.id] = t.path
        for stem in (t.audit.column, *t.audit.also):
            if stem in seen_columns:
                raise TaxonomyError(f"{t.path}: audit column '{stem}' (its count columns {stem}s_addressed, "
                                    f"{stem}_coverage; 'node' when audit: column is not given) is also that of "
                                    f"{seen_columns[stem]}; give one of them another (audit: column: ...)")
        seen_columns.update(dict.fromkeys((t.audit.column, *t.audit.also), t.path))
    domain = {lang: tuple(dict.fromkeys(x for t in parts for x in t.domain_terms.get(lang, ()))) for lang in LANGS}
    out = Taxonomy(
        version="+".join(t.version for t in parts), nodes=tuple(n for t in parts for n in t.nodes),
        passage_rules=tuple(r for t in parts for r in t.passage_rules), path=key,
        sha256=hashlib.sha256("".join(t.sha256 for t in parts).encode()).hexdigest(), domain_terms=domain,
        id="+".join(t.id for t in parts),
        name={lang: " × ".join(t.name.get(lang, t.id) for t in parts) for lang in LANGS},
        title="Policy coverage: " + " × ".join(t.name.get("en", t.id) for t in parts),
        cite="; ".join(t.cite for t in parts if t.cite),
        facets=tuple(f for t in parts for f in t.facets), audit=parts[0].audit, frameworks=tuple(parts))
    _LOADED_COMBINED[key] = out
    return out


def one_framework(taxonomy: Taxonomy, command: str) -> None:
    """Refuse several frameworks to a command that trains or scores one framework's model (train, review,
    evaluate): given two, they failed further on, on the two models' paths joined by a comma."""
    if len(taxonomy.parts) > 1:
        raise TaxonomyError(f"{command} takes one framework at a time (TAXONOMY={taxonomy.path} names "
                            f"{len(taxonomy.parts)}): give TAXONOMY= one of them")


def _text(value, where: str, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise TaxonomyError(f"{where}: expected a text")
    return str(value).strip()


def _version(value, written: str | None, path: Path) -> str:
    """The version as the file writes it: YAML reads an unquoted `version: 1.10` as the number 1.1 (and 2024-03-01
    as a date), which the reports and run.json then showed."""
    if value is not None and not isinstance(value, str) and written is not None:
        value = written
    return _text(value, f"{path}: version", "0")


def _as_written(value, written: str | None):
    """A node ID (or a parent, pairs_with naming one) as the file writes it: YAML reads a numbered codebook's
    unquoted `id: 1.10` as the number 1.1, the same as node 1.1's, and `id: 2` as a number."""
    if value is not None and not isinstance(value, (str, list, dict)) and written:
        return written
    return value


def _names(value, where: str, default: str) -> dict:
    """A name in both languages ({en: ..., zh: ...}); a plain text stands for both."""
    if value is None:
        return {lang: default for lang in LANGS}
    if isinstance(value, str) and value.strip():
        return {lang: value.strip() for lang in LANGS}
    if not isinstance(value, dict) or set(value) - set(LANGS) or not all(
            isinstance(value.get(l), str) and value[l].strip() for l in LANGS):
        raise TaxonomyError(f"{where}: needs en and zh texts ({{en: ..., zh: ...}})")
    return {l: value[l].strip() for l in LANGS}


# a facet ID or the audit's column word, each of which names table columns
_COLUMN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def _facets(raw, path: Path) -> tuple[Facet, ...]:
    facets = raw.get("facets")
    if facets is None:
        # a taxonomy without a facets section: its nodes' facets, in the order they first occur, named by ID
        seen = dict.fromkeys(n.get("facet") for n in raw["nodes"] if isinstance(n, dict)
                             and isinstance(n.get("facet"), str))
        facets = {f: {} for f in seen}
    if not isinstance(facets, dict) or not facets:
        raise TaxonomyError(f"{path}: 'facets' must map facet IDs to their names, e.g. "
                            f"facets: {{supply: {{name: {{en: Supply-side tools, zh: 供给型政策工具}}}}}}")
    out = []
    for fid, fr in facets.items():
        where = f"{path}: facet '{fid}'"
        if not isinstance(fid, str) or not _COLUMN_WORD.fullmatch(fid):
            raise TaxonomyError(f"{where}: a facet ID is a word of letters, digits and _ (it names table columns)")
        fr = fr if fr is not None else {}
        if not isinstance(fr, dict):
            raise TaxonomyError(f"{where}: expected a mapping with name (and optionally item, items)")
        unknown = set(fr) - {"name", "item", "items"}
        if unknown:
            raise TaxonomyError(f"{where}: unknown key(s) {sorted(unknown)} (allowed: name, item, items)")
        item = _text(fr.get("item"), where + ".item", "node")
        out.append(Facet(fid, _names(fr.get("name"), where + ".name", fid), item,
                         _text(fr.get("items"), where + ".items", item + "s")))
    return tuple(out)


def _audit(raw, path: Path, facets: tuple[Facet, ...]) -> Audit:
    ids = [f.id for f in facets]
    ar = raw.get("audit")
    if ar is None:
        return Audit(facets=tuple(ids))
    where = f"{path}: audit"
    if not isinstance(ar, dict):
        raise TaxonomyError(f"{where}: expected a mapping with facets (and optionally also, column, item, items, "
                            f"owner, guidance)")
    unknown = set(ar) - {"facets", "also", "column", "item", "items", "owner", "guidance"}
    if unknown:
        raise TaxonomyError(f"{where}: unknown key(s) {sorted(unknown)}")
    audited = _strs(ar.get("facets"), where + ".facets") or tuple(ids)
    also = _strs(ar.get("also"), where + ".also")
    for f in audited + also:
        if f not in ids:
            raise TaxonomyError(f"{where}: facet '{f}' is not declared under facets (declared: {', '.join(ids)})")
    if set(audited) & set(also):
        raise TaxonomyError(f"{where}: facet(s) {sorted(set(audited) & set(also))} both audited and in also")
    column = _text(ar.get("column"), where + ".column", "node")
    if not _COLUMN_WORD.fullmatch(column):
        raise TaxonomyError(f"{where}.column: a word of letters, digits and _ (it names table columns)")
    if column in also:
        raise TaxonomyError(f"{where}.column '{column}' is also a facet in audit.also: both would count into "
                            f"{column}s_addressed; give the column another word")
    item = _text(ar.get("item"), where + ".item", "node")
    return Audit(audited, also, column, item, _text(ar.get("items"), where + ".items", item + "s"),
                 _text(ar.get("owner"), where + ".owner", "the framework's"),
                 _text(ar.get("guidance"), where + ".guidance", "Framework"))


def _check_events(path: Path, raw_bytes: bytes, node_lines: list[int] | None = None,
                  written: dict[str, str] | None = None) -> None:
    """Refuse YAML anchors and aliases (&a, *a) and keys repeated in one mapping, from the parser's events,
    before anything is built from them. The safe loader still expands aliases, and aliases of aliases grow
    exponentially: a few hundred bytes become gigabytes once a field is turned into a string; a taxonomy has no
    use for them. A repeated key (two `terms:` lists of one lexicon) keeps only the last value, so the terms of
    the first were lost without a word. `node_lines` gets the line (from 1) each item of the top-level `nodes`
    list starts on, for messages about a node. `written` gets the text of each scalar value as the file gives it,
    by where it stands (`version`, `nodes[9].id`, `passage_rules[0].allow[2]`): YAML reads an unquoted
    `version: 1.10`, and a numbered codebook's `id: 1.10`, as the number 1.1."""
    frames: list[_Open] = []
    for event in yaml.parse(raw_bytes, Loader=_SafeLoader):
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise TaxonomyError(f"{path} line {event.start_mark.line + 1}: YAML anchors and aliases (&name, "
                                f"*name) are not allowed in a taxonomy; write the value out")
        if isinstance(event, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            top = frames[-1] if frames else None
            scalar = isinstance(event, yaml.ScalarEvent)
            where = None
            if top is not None and top.keys is not None and top.key_next:  # a key of the open mapping
                if scalar:
                    if event.value in top.keys:
                        raise TaxonomyError(f"{path} line {event.start_mark.line + 1}: '{event.value}' is given twice "
                                            f"in one mapping; YAML would keep only the last, and lose the first: "
                                            f"merge them")
                    top.keys.add(event.value)
                top.key_next, top.key = False, event.value if scalar else None
            elif top is not None:  # a value: of the key just read, or the next item of a sequence
                if top.keys is not None:
                    where, top.key_next = top.key, True
                else:
                    top.index += 1
                    where = top.index
                    if node_lines is not None and len(frames) == 2 and frames[1].at == "nodes":
                        node_lines.append(event.start_mark.line + 1)
                if scalar and written is not None:
                    written[_address([*(f.at for f in frames[1:]), where])] = event.value
            if isinstance(event, yaml.MappingStartEvent):
                frames.append(_Open(where, keys=set()))
            elif isinstance(event, yaml.SequenceStartEvent):
                frames.append(_Open(where))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frames.pop()


@dataclass
class _Open:
    """A mapping or sequence `_check_events` is inside."""
    at: str | int | None  # where it stands in the collection around it (None for the document's own)
    keys: set | None = None  # a mapping's keys so far; None for a sequence
    key_next: bool = True  # a mapping: the next scalar or collection is a key
    key: str | None = None  # a mapping: the key just read, whose value comes next
    index: int = -1  # a sequence: the index of the item just read


def _address(keys: list) -> str:
    """Where a value stands in a taxonomy file, as messages name it: nodes[9].id."""
    out = ""
    for k in keys:
        out += f"[{k}]" if isinstance(k, int) else f".{k}" if out else str(k)
    return out


def read_yaml(path: Path, raw_bytes: bytes, node_lines: list[int] | None = None,
              written: dict[str, str] | None = None):
    """A framework file's YAML (taxonomy, strength cues): safe loading only, no anchors, aliases or repeated
    keys, and a one-line error naming the file (`node_lines`, `written`: see `_check_events`)."""
    try:
        _check_events(path, raw_bytes, node_lines, written)
        return yaml.load(raw_bytes, Loader=_SafeLoader)
    except yaml.reader.ReaderError as exc:
        # bytes the YAML reader refuses: another encoding (GBK from a Chinese-locale editor), or not text at all
        hint = "; save it as UTF-8" if "octet" in str(exc.reason) or "utf" in str(exc.reason).lower() else ""
        line = raw_bytes[:exc.position].count(b"\n") + 1  # the reader's position counts bytes
        raise TaxonomyError(f"{path}: not valid YAML at line {line}, byte {exc.position}: {exc.reason}{hint}") \
            from None
    except yaml.YAMLError as exc:
        # the problem and where it is (line and column counted from 1), without quoting the file
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = raw_bytes.split(b"\n")[mark.line] if mark is not None and mark.line < raw_bytes.count(b"\n") + 1 else b""
        if b"\t" in line[: len(line) - len(line.lstrip())]:
            what += " (the line is indented with a tab: YAML indents with spaces)"
        raise TaxonomyError(f"{path}: not valid YAML{where}: {what}") from None


_TOP_KEYS = {"version", "source", "framework", "facets", "audit", "domain_terms", "passage_rules", "nodes"}
_NODE_KEYS = {"id", "facet", "parent", "group", "pairs_with", "name", "section", "definition", "recommendation",
              "recommendation_zh", "lexicon"}


def _check_hierarchy(nodes: list[Node], at) -> None:
    """Refuse a parent or pairs_with that names no node, a parent that is not a group of the node's own facet,
    and a group with a parent (`at(i)`: the file and the line node i starts on)."""
    by_id = {n.id: n for n in nodes}
    for i, n in enumerate(nodes):
        for ref, what in ((n.parent, "parent"), (n.pairs_with, "pairs_with")):
            if isinstance(ref, (list, dict)):
                raise TaxonomyError(f"{at(i)}: node '{n.id}': {what}: expected one node ID, got {ref!r}")
            if ref is not None and ref not in by_id:
                raise TaxonomyError(f"{at(i)}: node '{n.id}': {what} '{ref}' does not exist")
        parent = by_id.get(n.parent)
        if parent is not None and not parent.group:
            raise TaxonomyError(f"{at(i)}: node '{n.id}': parent '{n.parent}' is not a group")
        if n.group and n.parent is not None:
            raise TaxonomyError(f"{at(i)}: node '{n.id}': a group has no parent (groups do not nest: a leaf's "
                                f"labels roll up to its own group only, so '{n.parent}' would get none of them)")
        if parent is not None and parent.facet != n.facet:
            # a group's coverage counts its leaves' passages: an incubator article made a region address IP measures
            raise TaxonomyError(f"{at(i)}: node '{n.id}': parent '{n.parent}' is a group of facet '{parent.facet}', "
                                f"not of '{n.facet}': its labels would count as that facet's; give it a group of "
                                f"its own facet, or none")


def _passage_rules(raw, path: Path, written: dict[str, str], ids: set[str]) -> tuple[PassageRule, ...]:
    """The file's passage rules, each allowing only nodes among `ids` (`written`: see `_check_events`)."""
    rules = []
    for i, rr in enumerate(raw.get("passage_rules") or []):
        where = f"{path}: passage_rules[{i}]"
        if not isinstance(rr, dict) or not isinstance(rr.get("id"), str):
            raise TaxonomyError(f"{where}: needs an id")
        where = f"{path}: passage rule '{rr['id']}'"
        if rr.get("lang") not in LANGS:
            raise TaxonomyError(f"{where}: lang must be one of {LANGS}")
        pats = _patterns(rr.get("patterns"), where, rr["lang"])
        _check_patterns(pats, where, ignores_case(rr["lang"]))
        allow = rr.get("allow")
        allow = ([_as_written(a, written.get(f"passage_rules[{i}].allow[{j}]")) for j, a in enumerate(allow)]
                 if isinstance(allow, list) else _as_written(allow, written.get(f"passage_rules[{i}].allow")))
        allow = _strs(allow, where + ".allow")
        for a in allow:
            if a not in ids:
                raise TaxonomyError(f"{where}: allow names unknown node '{a}'")
        rules.append(PassageRule(rr["id"], rr["lang"], pats, frozenset(allow)))
    return tuple(rules)


def _parse(path: Path, raw_bytes: bytes) -> Taxonomy:
    node_lines: list[int] = []
    written: dict[str, str] = {}
    raw = read_yaml(path, raw_bytes, node_lines, written)

    def at(i: int) -> str:  # the file and the line node i starts on
        return f"{path} line {node_lines[i]}" if i < len(node_lines) else str(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("nodes"), list):
        raise TaxonomyError(f"{path}: expected a mapping with a 'nodes' list")

    facets = _facets(raw, path)
    fw, fw_id, fw_name = _framework(raw, path)
    facet_ids = tuple(f.id for f in facets)
    nodes: list[Node] = []
    seen: set[str] = set()
    for i, rn in enumerate(raw["nodes"]):
        nodes.append(_node(rn, i, at, written, facet_ids, seen, fw_id))
        seen.add(nodes[-1].id)

    _check_hierarchy(nodes, at)
    rules = _passage_rules(raw, path, written, {n.id for n in nodes})

    domain = raw.get("domain_terms") or {}
    if not isinstance(domain, dict) or set(domain) - set(LANGS):
        raise TaxonomyError(f"{path}: domain_terms must map {' / '.join(LANGS)} to lists of terms")
    domain_terms = {lang: _terms(domain.get(lang), f"{path}: domain_terms.{lang}", lang) for lang in LANGS}
    # a misspelt key would be read as absent: its terms, rules or recommendation lost without a word
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise TaxonomyError(f"{path}: unknown key(s) {sorted(map(str, unknown))} (allowed: "
                            f"{', '.join(sorted(_TOP_KEYS))})")

    audit = _audit(raw, path, facets)
    # checked on loading, not by validate alone: the run went on and counted the facet as addressed nowhere
    for f in audit.facets + audit.also:
        if not any(n.facet == f and not n.group for n in nodes):
            default = "" if raw.get("audit") is not None else " (without an audit: section every facet is audited)"
            raise TaxonomyError(f"{path}: audit: facet '{f}' has no leaf node{default}")

    return Taxonomy(
        domain_terms=domain_terms,
        version=_version(raw.get("version"), written.get("version"), path), nodes=tuple(nodes),
        passage_rules=rules,
        path=str(path), sha256=hashlib.sha256(raw_bytes).hexdigest(),
        id=fw_id, name=fw_name, title=_text(fw.get("title"), f"{path}: framework.title",
                                            f"{fw_name['en']}: policy coverage and gaps"),
        cite=_text(fw.get("cite"), f"{path}: framework.cite"), facets=facets, audit=audit,
    )


def _framework(raw: dict, path: Path) -> tuple[dict, str, dict[str, str]]:
    """The file's `framework:` mapping, its id (by default the folder's or the file's name) and its names."""
    fw = raw.get("framework") or {}
    if not isinstance(fw, dict):
        raise TaxonomyError(f"{path}: framework: expected a mapping (id, name, title, cite)")
    unknown = set(fw) - {"id", "name", "title", "cite"}
    if unknown:
        raise TaxonomyError(f"{path}: framework: unknown key(s) {sorted(unknown)} (allowed: id, name, title, cite)")
    default_id = (path.parent.name if path.name == "taxonomy.yaml" else path.stem) or "taxonomy"
    fw_id = _text(fw.get("id"), f"{path}: framework.id", default_id)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", fw_id):
        raise TaxonomyError(f"{path}: framework.id '{fw_id}': letters, digits, '_', '.', '-' only")
    return fw, fw_id, _names(fw.get("name"), f"{path}: framework.name", fw_id)


def _node(rn, i: int, at, written: dict[str, str], facet_ids: tuple[str, ...], seen: set[str],
          fw_id: str) -> Node:
    """Node i of the `nodes` list, checked (`at(i)`: where it starts, for messages; `seen`: the ids before it)."""
    if isinstance(rn, dict):
        rn = {k: _as_written(v, written.get(f"nodes[{i}].{k}")) if k in ("id", "parent", "pairs_with") else v
              for k, v in rn.items()}
    if not isinstance(rn, dict) or not isinstance(rn.get("id"), str):
        raise TaxonomyError(f"{at(i)}: nodes[{i}] has no string 'id'")
    nid = rn["id"]
    where = f"{at(i)}: node '{nid}'"
    unknown = set(rn) - _NODE_KEYS
    if unknown:
        raise TaxonomyError(f"{where}: unknown key(s) {sorted(map(str, unknown))} (allowed: "
                            f"{', '.join(sorted(_NODE_KEYS))})")
    if not re.fullmatch(r"[^\W_][\w.-]*", nid):
        # "; " joins a passage's labels in the tables and "|" keys the report's evidence by region and node
        raise TaxonomyError(f"{where}: a node ID is letters, digits, '_', '.' and '-' (it names table columns "
                            f"and is listed with others in one cell)")
    if nid in seen:
        raise TaxonomyError(f"{where}: duplicate id")
    if rn.get("facet") not in facet_ids:
        raise TaxonomyError(f"{where}: facet must be one of those declared under facets ({', '.join(facet_ids)}), "
                            f"got {rn.get('facet')!r}")
    name = rn.get("name") or {}
    if not isinstance(name, dict) or set(name) != set(LANGS) or not all(
            isinstance(name[l], str) and name[l].strip() for l in LANGS):
        raise TaxonomyError(f"{where}: name needs exactly en and zh (quote names that contain commas)")
    group = rn.get("group", False)
    if not isinstance(group, bool):
        raise TaxonomyError(f"{where}: group: expected true or false (unquoted), got {group!r}")
    return Node(
        id=nid, facet=rn["facet"], name=name, parent=rn.get("parent"), group=group,
        pairs_with=rn.get("pairs_with"), section=_text(rn.get("section"), f"{where}: section"),
        definition=_text(rn.get("definition"), f"{where}: definition"),
        recommendation=_text(rn.get("recommendation"), f"{where}: recommendation"),
        recommendation_zh=_text(rn.get("recommendation_zh"), f"{where}: recommendation_zh"),
        lexicon=_node_lexicon(rn.get("lexicon"), where, group), framework=fw_id,
    )
