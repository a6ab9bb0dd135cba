"""Strength of commitment of a passage, read from its own wording with the cues of a `strength.yaml`.

The cues are data (`taxonomy/strength.yaml`, or a `strength.yaml` beside a framework's taxonomy.yaml); this module
only reads and applies them. Levels are tried in the order the file lists them (the precedence); each level's
`not` patterns blank out negated forms of its cues first, and the file's `ignore` patterns blank out wording that
commits to nothing before any level is read. A passage with no cue gets the `default` level.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


from .taxonomy import LANGS, PatternError, Taxonomy, TaxonomyError, compile_pattern, read_yaml

FILE = "strength.yaml"
# the project's cues, used by a framework whose folder has no strength.yaml
DEFAULT = Path(__file__).resolve().parent.parent / "taxonomy" / FILE


@dataclass(frozen=True)
class Level:
    id: str
    name: dict                  # en / zh
    commits: bool               # a commitment (binding, resources) rather than words (encouraging, declaratory)
    cues: dict                  # lang -> tuple of patterns
    negations: dict             # lang -> tuple of patterns blanked out before this level's cues are read
    default: bool = False


@dataclass(frozen=True)
class StrengthCues:
    levels: tuple[Level, ...]
    ignore: dict                # lang -> tuple of patterns
    path: str
    sha256: str

    @property
    def default(self) -> Level:
        return next(l for l in self.levels if l.default)

    @property
    def ids(self) -> list[str]:
        return [l.id for l in self.levels]

    @property
    def by_id(self) -> dict[str, Level]:
        return {l.id: l for l in self.levels}

    def read(self, text: str, lang: str) -> tuple[str, str]:
        """(level id, the cue it was read from, as written in the passage; "" for the default level)."""
        lang = lang if lang in LANGS else "zh"
        ic = lang == "en"
        work = text or ""
        for p in self.ignore.get(lang, ()):
            work = _blank(work, compile_pattern(p, ic))
        for level in self.levels:
            if level.default:
                continue
            seen = work
            for p in level.negations.get(lang, ()):
                seen = _blank(seen, compile_pattern(p, ic))
            found = None
            for rx in _cue_searchers(level.cues.get(lang, ()), ic):
                m = rx.search(seen)
                if m is not None and (found is None or m.start() < found[0]):
                    found = (m.start(), m.end())
            if found is not None:
                return level.id, text[found[0]:found[1]].strip()
        return self.default.id, ""

    def split(self, counts: dict[str, int]) -> str:
        """'3 binding, 5 encouraging': the levels with passages, in the order of the file."""
        return ", ".join(f"{counts[l.id]} {l.name['en']}" for l in self.levels if counts.get(l.id))


@lru_cache(maxsize=None)
def _cue_searchers(cues: tuple[str, ...], ignore_case: bool) -> tuple:
    """A level's cues as one alternation when they can be joined, else one pattern each.

    Joined, one search finds what searching each cue would: the leftmost start of any cue, and at that start the
    first cue listed that matches there (leftmost-first alternation, on RE2 and on Python's re alike), with the
    span that cue alone would match. (Backreferences, whose numbers joining would shift, are refused by
    compile_pattern anyway.) Cues that cannot be joined (one group name twice) are searched one by one."""
    if len(cues) > 1:
        try:
            return (compile_pattern("|".join(f"(?:{p})" for p in cues), ignore_case),)
        except PatternError:
            pass
    return tuple(compile_pattern(p, ignore_case) for p in cues)


def _blank(text: str, rx) -> str:
    """`text` with every match of `rx` replaced by as many spaces (offsets stay those of the passage)."""
    out, pos = [], 0
    for m in rx.finditer(text):
        if m.end() > m.start():
            out += [text[pos:m.start()], " " * (m.end() - m.start())]
            pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def strength_path(taxonomy: Taxonomy) -> Path:
    """The cue file of a run: beside the (first) framework's taxonomy.yaml, else the project's."""
    first = taxonomy.parts[0]
    own = Path(first.path).parent / FILE
    return own if own.is_file() else DEFAULT


_LOADED: dict[tuple[str, str], StrengthCues] = {}


def load_strength(path: str | Path | None = None, taxonomy: Taxonomy | None = None) -> StrengthCues:
    """Load and check a strength.yaml (`path`, else the one `taxonomy` uses); a bad file is a TaxonomyError
    naming the file and the problem."""
    path = Path(path) if path is not None else strength_path(taxonomy) if taxonomy is not None else DEFAULT
    if not path.is_file():
        raise TaxonomyError(f"{path}: strength cue file not found")
    raw_bytes = path.read_bytes()
    key = (str(path), hashlib.sha256(raw_bytes).hexdigest())
    if key not in _LOADED:
        _LOADED[key] = _parse(path, raw_bytes)
    return _LOADED[key]


def _patterns(value, where: str, lang: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise TaxonomyError(f"{where}: expected a list of patterns")
    for p in value:
        try:
            compile_pattern(p, lang == "en")
        except PatternError as exc:
            raise TaxonomyError(f"{where}: pattern {p!r} {exc}") from None
    return tuple(value)


def _parse(path: Path, raw_bytes: bytes) -> StrengthCues:
    raw = read_yaml(path, raw_bytes)
    if not isinstance(raw, dict) or not isinstance(raw.get("levels"), list) or not raw["levels"]:
        raise TaxonomyError(f"{path}: expected a mapping with a 'levels' list")
    levels, seen = [], set()
    for i, lr in enumerate(raw["levels"]):
        if not isinstance(lr, dict) or not isinstance(lr.get("id"), str) or not lr["id"].strip():
            raise TaxonomyError(f"{path}: levels[{i}] has no string 'id'")
        lid = lr["id"]
        where = f"{path}: level '{lid}'"
        if lid in seen:
            raise TaxonomyError(f"{where}: duplicate id")
        seen.add(lid)
        unknown = set(lr) - {"id", "name", "commits", "default", *LANGS}
        if unknown:
            raise TaxonomyError(f"{where}: unknown key(s) {sorted(unknown)}")
        name = lr.get("name")
        if not isinstance(name, dict) or not all(isinstance(name.get(l), str) and name[l].strip() for l in LANGS):
            raise TaxonomyError(f"{where}: name needs en and zh")
        cues, negs = {}, {}
        for lang in LANGS:
            lraw = lr.get(lang) or {}
            if not isinstance(lraw, dict) or set(lraw) - {"cues", "not"}:
                raise TaxonomyError(f"{where}: {lang}: expected a mapping with cues (and optionally not)")
            cues[lang] = _patterns(lraw.get("cues"), f"{where}: {lang}.cues", lang)
            negs[lang] = _patterns(lraw.get("not"), f"{where}: {lang}.not", lang)
        default = bool(lr.get("default", False))
        if not default and not all(cues[l] for l in LANGS):
            raise TaxonomyError(f"{where}: needs cues in both languages (zh and en), or default: true")
        levels.append(Level(lid, {l: name[l].strip() for l in LANGS}, bool(lr.get("commits", False)), cues, negs,
                            default))
    defaults = [l.id for l in levels if l.default]
    if len(defaults) != 1:
        raise TaxonomyError(f"{path}: exactly one level must be the default (default: true), found "
                            f"{len(defaults)}")
    ig = raw.get("ignore") or {}
    if not isinstance(ig, dict) or set(ig) - set(LANGS):
        raise TaxonomyError(f"{path}: ignore must map zh / en to lists of patterns")
    ignore = {lang: _patterns(ig.get(lang), f"{path}: ignore.{lang}", lang) for lang in LANGS}
    return StrengthCues(tuple(levels), ignore, str(path), hashlib.sha256(raw_bytes).hexdigest())
