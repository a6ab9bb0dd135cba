"""The taxonomy lexicons as a matcher: find evidence first, decide labels second (as spaCy's SpanRuler).

`LexiconMatcher.match` returns every hit of every node's terms, rule terms and patterns with offsets;
`LexiconMatcher.decide` turns hits into labels, applying context requirements, exclusion terms and the
taxonomy's passage rules (coding conventions). Literal terms go through one Aho-Corasick automaton per
language, so the cost does not grow with the number of terms.
"""
from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from itertools import accumulate

import ahocorasick

from .regex_syntax import ops, parse
from .taxonomy import LANGS, Taxonomy, compile_pattern, ignores_case

# roles a literal can play for a node
TERM, RULE_TERM, CONTEXT, EXCLUDE = "term", "rule", "context", "exclude"
DOMAIN = "domain"  # a word of the policy domain (no node): it only makes the passage worth scoring
PREFILTER = "prefilter"
# a regex states its own context and boundaries; only literal terms get the word-boundary check
PATTERN_ROLES = ("pattern", "rule_pattern")
_ROLE_RANK = {TERM: 0, "pattern": 1, RULE_TERM: 2, "rule_pattern": 3, CONTEXT: 4, EXCLUDE: 5, DOMAIN: 6}
# match_many matches up to this many consecutive passages of one document in one automaton pass (each passage
# gets the hits it has alone, so the batches do not change the result; windows are still cut at multiples of it)
MATCH_GROUP = 500
_LINE_BREAK_AS_SPACE = str.maketrans("\n", " ")


def required_literals(pattern: str, ignore_case: bool) -> set[str] | None:
    """Strings of which every match of `pattern` contains at least one, or None when none can be derived.

    Lets the matcher skip a regex on text where none of them occurs (found in the same automaton pass).
    """
    found = _literal_sets(pattern)
    if found is None:
        return None
    best = found[0]
    return {f.lower() for f in best} if ignore_case else best


def _literal_sets(pattern: str) -> list[set[str]] | None:
    """The sets of strings of which every match of `pattern` contains one string from each, the best first (the
    one `required_literals` gives: the longest shortest string); one set per part of the pattern's top-level
    sequence that yields one. None when none can be derived."""
    BRANCH, LITERAL, MAX_REPEAT, MIN_REPEAT, SUBPATTERN = (ops.BRANCH, ops.LITERAL, ops.MAX_REPEAT, ops.MIN_REPEAT,
                                                           ops.SUBPATTERN)

    def seq(items, every: list | None = None) -> set[str] | None:
        best, run = None, []

        def consider(cand):
            nonlocal best
            if cand and all(cand) and every is not None:
                every.append(cand)
            if cand and all(cand) and (best is None or min(map(len, cand)) > min(map(len, best))):
                best = cand

        for op, av in items:
            if op is LITERAL:
                run.append(chr(av))
                continue
            consider({"".join(run)} if run else None)
            run = []
            if op is SUBPATTERN:
                consider(seq(av[-1]))
            elif op is BRANCH:
                alts = [seq(b) for b in av[1]]
                if all(alts):
                    consider(set().union(*alts))
            elif op in (MAX_REPEAT, MIN_REPEAT) and av[0] >= 1:
                consider(seq(av[2]))
        consider({"".join(run)} if run else None)
        return best

    every: list[set[str]] = []
    try:
        best = seq(parse(pattern), every)
    except Exception:  # an unparseable pattern simply gets no prefilter
        return None
    if not best:
        return None
    return [best] + [s for s in every if s is not best]


def _literal_tests(pattern: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """How to tell, without running `pattern`, that it cannot match a text: for each set of literals of which
    every match contains one (`_literal_sets`), how to look for them. "caseless": they have no letter that has
    case (Chinese, digits, punctuation), looked for in the text as it is, however the pattern treats case;
    "ascii": looked for lower-cased in the lower-cased text, when its letters are all ASCII (see `_may_match`).
    Sets of other literals are not used. No test: the pattern is always run."""
    tests = []
    for found in _literal_sets(pattern) or ():
        if all(c.lower() == c == c.upper() and c.casefold() == c for lit in found for c in lit):
            tests.append(("caseless", frozenset(found)))
        elif all(lit.isascii() for lit in found):
            tests.append(("ascii", frozenset(lit.lower() for lit in found)))
    return tuple(tests)


def _may_match(tests, text: str, lowered: str | None, found: dict | None = None) -> bool:
    """False when a literal test of `_literal_tests` rules a match in `text` out. `lowered`: text.lower(), or
    None when the text has a letter outside ASCII (in a case-insensitive regex the long s and the dotless i
    match ASCII letters they do not lower-case to), which leaves the "ascii" tests out. `found`: the outcome of
    each test on this text so far (patterns share literal sets; each test scans the whole text)."""
    for test in tests:
        kind, literals = test
        hay = text if kind == "caseless" else lowered
        if hay is None:
            continue
        ok = found.get(test) if found is not None else None
        if ok is None:
            ok = any(lit in hay for lit in literals)
            if found is not None:
                found[test] = ok
        if not ok:
            return False
    return True


def _lowered(text: str) -> str | None:
    """text.lower() for `_may_match`, or None when the text has a letter outside ASCII."""
    return text.lower() if not _NON_ASCII_LETTER.search(text) else None


# `decide` without the passage rule from its caller
_NOT_GIVEN = object()

# a letter outside ASCII (\w without digits, the underscore and ASCII)
_NON_ASCII_LETTER = re.compile(r"[^\W\d_\x00-\x7f]")


@dataclass(frozen=True)
class Hit:
    node: str
    term: str
    start: int
    end: int
    role: str         # term | rule | context | exclude | pattern | rule_pattern
    rule: int = -1    # index of the node's rule for rule/context hits


def _word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


class _WordEnds:
    """Where the word running through a position ends.

    Asked in increasing positions (hits come by their end), so the run found last answers every later
    position inside it: extending each glob hit by rescanning its word would be quadratic on a long run of
    letters, and mapping every character of a document to its word's end up front cost more than the matching."""

    def __init__(self, text: str):
        self.text = text
        self.run = (0, 0)  # the last run of word characters found: [start, end)

    def __call__(self, pos: int) -> int:
        start, end = self.run
        if start <= pos < end:
            return end
        end = _WORD_TAIL.match(self.text, pos).end()
        if end > pos:
            self.run = (pos, end)
        return end


# a run of the characters _word_char accepts (\w is exactly str.isalnum() or "_", character by character)
_WORD_TAIL = re.compile(r"\w*")


@dataclass(frozen=True)
class WordCuts:
    """Word boundaries of a Chinese passage from its tokens. The tokenizer drops whitespace and nothing else, so
    the tokens tile the passage's text without its whitespace: the boundaries are kept in that text, as running
    sums of the tokens' lengths, which costs no Python step per token (placing each token in the text did, and
    was an eighth of the classify stage)."""
    ends: list    # each token's end offset in the text without whitespace, in order
    spaces: list  # offsets of the text's whitespace characters
    everywhere: bool = False  # the tokens do not tile the text: every hit counts as whole

    def whole(self, hit: "Hit") -> bool:
        """Whether the hit starts and ends on word boundaries, or lies inside one word (a term within a longer
        compound): 调解 across 协调|解决 cuts two words and is no match."""
        if self.everywhere:
            return True
        ends = self.ends
        start = hit.start - bisect_left(self.spaces, hit.start)
        end = hit.end - bisect_left(self.spaces, hit.end)
        k = bisect_right(ends, start)  # the token that holds the hit's first character
        if start == (ends[k - 1] if k else 0):
            j = bisect_left(ends, end)
            if j < len(ends) and ends[j] == end:
                return True
        return k < len(ends) and end <= ends[k]


def word_cuts(text: str, tokens: list[str]) -> WordCuts:
    """Token boundaries of `text`."""
    if "".join(tokens) != "".join(text.split()):
        return WordCuts([], [], everywhere=True)
    return WordCuts(list(accumulate(map(len, tokens))), [m.start() for m in _SPACE.finditer(text)])


# what str.split() splits on and the tokenizer drops (re's \s on str is str.isspace())
_SPACE = re.compile(r"\s")


class LexiconMatcher:
    """Matches taxonomy lexicons in passages. Build once per taxonomy; `match` and `decide` never learn."""

    def __init__(self, taxonomy: Taxonomy):
        self.taxonomy = taxonomy
        self.leaf_ids = taxonomy.leaf_ids
        self._automata = {}
        self._patterns = {}
        self._rule_patterns = {}
        self._pattern_tests: dict[str, list] = {}
        self._passage_rules = {}
        self._unfiltered: dict[str, set[int]] = {}
        for lang in LANGS:
            caseless = ignores_case(lang)
            auto = ahocorasick.Automaton()
            entries: dict[str, list] = defaultdict(list)
            pats, rpats = [], []
            for node in taxonomy.leaves:
                lex = node.lexicon.get(lang)
                if lex is None:
                    continue
                for t in lex.terms:
                    entries[self._key(t, lang)].append((node.id, TERM, -1, t.endswith("*")))
                for t in lex.exclude:
                    entries[self._key(t, lang)].append((node.id, EXCLUDE, -1, t.endswith("*")))
                for i, r in enumerate(lex.rules):
                    for t in r.terms:
                        entries[self._key(t, lang)].append((node.id, RULE_TERM, i, t.endswith("*")))
                    for t in r.context:
                        entries[self._key(t, lang)].append((node.id, CONTEXT, i, t.endswith("*")))
                    for p in r.patterns:
                        rpats.append((node.id, i, compile_pattern(p, caseless)))
                for p in lex.patterns:
                    pats.append((node.id, compile_pattern(p, caseless)))
            for t in taxonomy.domain_terms.get(lang, ()):
                entries[self._key(t, lang)].append(("", DOMAIN, -1, t.endswith("*")))
            # pattern k (the node patterns, then the rule patterns) is run where the automaton finds one of its
            # required literals; a pattern without such literals runs on every passage
            numbered = [rx for _, rx in pats] + [rx for _, _, rx in rpats]
            self._unfiltered[lang] = set()
            for k, rx in enumerate(numbered):
                literals = required_literals(rx.pattern, caseless)
                if literals is None:
                    self._unfiltered[lang].add(k)
                for lit in literals or ():
                    entries[lit].append(("", PREFILTER, k, False))
            for key, vals in entries.items():
                auto.add_word(key, (key, vals))
            if entries:
                auto.make_automaton()
                self._automata[lang] = auto
            self._patterns[lang] = pats
            self._rule_patterns[lang] = rpats
            # the automaton finds the best set of a pattern's literals; these tests look for all of them before
            # the regex runs over a document (most patterns the automaton lets through still cannot match)
            self._pattern_tests[lang] = [_literal_tests(rx.pattern) for rx in numbered]
            self._passage_rules[lang] = [
                (r, [(compile_pattern(p, caseless), _literal_tests(p)) for p in r.patterns])
                for r in taxonomy.passage_rules if r.lang == lang]

    @staticmethod
    def _key(term: str, lang: str) -> str:
        t = term.rstrip("*")
        return t.lower() if ignores_case(lang) else t

    def match(self, text: str, lang: str, tokens: list[str] | None = None) -> list[Hit]:
        """Every lexicon hit in `text` with character offsets into it.

        English terms match whole words (a trailing * extends to the end of the word). Chinese has no spaces, so
        given the passage's `tokens` a Chinese term must not cut into a word at both of its ends: 调解 inside
        协调|解决 is no hit, 技术转移 inside the one word 技术转移机构 is.
        """
        hits = self._hits(text, lang if lang in LANGS else "en", [0])
        if lang == "zh" and tokens is not None and hits:
            cuts = word_cuts(text, tokens)
            hits = [h for h in hits if h.role in PATTERN_ROLES or cuts.whole(h)]
        return hits

    def _hits(self, text: str, lang: str, starts: list[int]) -> list[Hit]:
        """The hits in `text`, the passages starting at `starts` joined by blank lines: terms from one automaton
        pass over the whole text (a term holds no blank line), patterns run on each passage alone, and only on
        the passages holding one of the literals every match of the pattern contains (and passing its other
        literal tests: cheap on one passage, where on the joined text each test scanned it all)."""
        hits: list[Hit] = []
        auto = self._automata.get(lang)
        # pattern -> positions of its literals
        triggered: dict[int, list[int]] = {k: [] for k in self._unfiltered.get(lang, ())}
        if auto is not None and text:
            # a line break ingest left inside a sentence (a short wrapped line, a plain text's line before a capital)
            # parts the words of a term as a space does; two of them (a blank line) part passages, and no term
            hay = text.lower().translate(_LINE_BREAK_AS_SPACE) if lang == "en" else text
            word_end = _WordEnds(hay) if lang == "en" else None
            for end_idx, (key, vals) in auto.iter(hay):
                start = end_idx - len(key) + 1
                end = end_idx + 1
                if lang == "en":
                    left_ok = start == 0 or not _word_char(hay[start - 1])
                    whole = end >= len(hay) or not _word_char(hay[end])
                for node, role, rule, glob in vals:
                    if role == PREFILTER:
                        triggered.setdefault(rule, []).append(start)
                        continue
                    if lang == "en" and (not left_ok or (not glob and not whole)):
                        continue
                    e = word_end(end) if (lang == "en" and glob and not whole) else end
                    hits.append(Hit(node, text[start:e], start, e, role, rule))
        if not triggered:
            return hits
        pats = self._patterns.get(lang, ())
        tests = self._pattern_tests.get(lang, ())
        ends = [s - 2 for s in starts[1:]] + [len(text)]
        unfiltered, everywhere = self._unfiltered.get(lang, ()), range(len(starts))
        # each passage's text, lower-cased text and literal tests' outcomes, made when a pattern first needs them
        passage: dict[int, tuple[str, str | None, dict]] = {}
        runs = [(k, node, "pattern", -1, rx) for k, (node, rx) in enumerate(pats)] + \
            [(len(pats) + k, node, "rule_pattern", i, rx) for k, (node, i, rx) in enumerate(self._rule_patterns.get(lang, ()))]
        for k, node, role, rule, rx in runs:
            at = triggered.get(k)
            if at is None:
                continue
            for p in (everywhere if k in unfiltered else
                      sorted({bisect_right(starts, pos) - 1 for pos in at})):
                if p not in passage:
                    own = text[starts[p]:ends[p]]
                    passage[p] = (own, _lowered(own), {})
                own, lowered, found = passage[p]
                if not _may_match(tests[k], own, lowered, found):
                    continue
                base = starts[p]
                for m in rx.finditer(own):
                    if m.end() > m.start():
                        hits.append(Hit(node, m.group(0), base + m.start(), base + m.end(), role, rule))
        return hits

    def match_many(self, texts: list[str], langs: list[str], groups: list[str] | None = None,
                   tokens: list[list[str]] | None = None) -> list[list[Hit]]:
        """`match` for each passage. Consecutive passages of one group (document) are matched in one pass over
        their joined text, which costs far less than one pass per passage; the result is that of matching each
        passage alone (no term spans a blank line; patterns run on each passage's own text)."""
        out: list[list[Hit]] = [[] for _ in texts]
        i, n = 0, len(texts)
        while i < n:
            j = i + 1
            if groups is not None:
                while j < n and groups[j] == groups[i] and langs[j] == langs[i] and j - i < MATCH_GROUP:
                    j += 1
            starts, pos = [], 0
            for k in range(i, j):
                starts.append(pos)
                pos += len(texts[k]) + 2
            joined = "\n\n".join(texts[i:j])
            for h in self._hits(joined, langs[i] if langs[i] in LANGS else "en", starts):
                k = bisect_right(starts, h.start) - 1
                base = starts[k]
                if h.end <= base + len(texts[i + k]):
                    out[i + k].append(Hit(h.node, h.term, h.start - base, h.end - base, h.role, h.rule))
            i = j
        if tokens is not None:
            for k, (text, lang, hits) in enumerate(zip(texts, langs, out)):
                if lang == "zh" and hits:
                    cuts = word_cuts(text, tokens[k])
                    out[k] = [h for h in hits if h.role in PATTERN_ROLES or cuts.whole(h)]
        return out

    def passage_rule(self, text: str, lang: str):
        """The first passage rule (coding convention) that fires on `text`, or None.

        A pattern whose required literals (one of each set, `_literal_tests`) do not all occur in the text
        cannot match it and is not run: most passages fall under no rule, and running every rule's regexes on
        every scored passage was a fifth of the classify stage."""
        rules = self._passage_rules.get(lang if lang in LANGS else "en", ())
        lowered = _lowered(text) if rules else None
        for rule, rxs in rules:
            if any(_may_match(tests, text, lowered) and rx.search(text) for rx, tests in rxs):
                return rule
        return None

    def decide(self, text: str, lang: str, hits: list[Hit] | None = None, rule=_NOT_GIVEN) -> dict[str, list[Hit]]:
        """Labels with their evidence: node -> the hits that justify it. `rule`: the passage rule of `text`
        (`passage_rule`), when the caller has it already."""
        if hits is None:
            hits = self.match(text, lang)
        if not hits:
            return {}
        by_node: dict[str, list[Hit]] = defaultdict(list)
        for h in hits:
            if h.role != DOMAIN:
                by_node[h.node].append(h)
        if rule is _NOT_GIVEN:
            rule = self.passage_rule(text, lang)
        out: dict[str, list[Hit]] = {}
        for node, hs in by_node.items():
            if rule is not None and node not in rule.allow:
                continue
            if any(h.role == EXCLUDE for h in hs):
                continue
            contexts = {h.rule for h in hs if h.role == CONTEXT}
            evidence = [h for h in hs if h.role in (TERM, "pattern")
                        or (h.role in (RULE_TERM, "rule_pattern") and h.rule in contexts)]
            if evidence:
                evidence += [h for h in hs if h.role == CONTEXT and any(e.rule == h.rule for e in evidence)]
                # a fixed order (the strongest role first at equal spans) keeps outputs identical run to run
                out[node] = sorted(set(evidence), key=lambda h: (h.start, h.end, h.term, _ROLE_RANK[h.role], h.rule))
        return out


_SHARED: dict[str, LexiconMatcher] = {}


def shared_matcher(taxonomy: Taxonomy) -> LexiconMatcher:
    """This process's one matcher for a taxonomy (by content). Building one parses every pattern for its
    literals and builds the automata (a quarter of a second), and a loaded model needs it twice: for the
    evidence of its labels and for its lexicon features."""
    m = _SHARED.get(taxonomy.sha256)
    if m is None:
        m = _SHARED[taxonomy.sha256] = LexiconMatcher(taxonomy)
    return m
