
import json
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.classify import PassageClassifier, fit_model, label_matrix, passage_table, read_coded, tokenize_frame
from pipeline.lexicon import LexiconMatcher
from pipeline.model import PolicyClassifier
from pipeline.taxonomy import load_taxonomy
from pipeline.jieba_adapter import JiebaSegmenter
from pipeline.tokenize import spacy_doc_tokens, tokenize_texts

from conftest import ROOT

FACETS = {"model": {"name": {"en": "Models", "zh": "模式"}}, "measure": {"name": {"en": "Measures", "zh": "对策"}}}
TINY = {
    "version": "t1",
    "facets": FACETS,
    "nodes": [
        {"id": "measure.ip", "facet": "measure", "group": True, "name": {"en": "IP", "zh": "知识产权"}},
        {"id": "measure.ip.legal", "facet": "measure", "parent": "measure.ip", "name": {"en": "legal", "zh": "法"},
         "lexicon": {"zh": {"terms": ["知识产权归属"], "rules": [{"terms": ["权属"], "context": ["科技成果"]}],
                            "exclude": ["商标"]},
                     "en": {"terms": ["title to*"], "patterns": ["(?i)retain\\s+title"]}}},
        {"id": "model.incubator", "facet": "model", "name": {"en": "Incubators", "zh": "孵化器"},
         "lexicon": {"zh": {"terms": ["孵化器"]}, "en": {"terms": ["incubat*"]}}},
    ],
    "passage_rules": [{"id": "penalty", "lang": "zh", "patterns": ["处.{0,10}罚款"], "allow": ["measure.ip.legal"]}],
}


@pytest.fixture
def tiny(tmp_path):
    p = tmp_path / "taxonomy.yaml"
    p.write_text(yaml.safe_dump(TINY, allow_unicode=True), encoding="utf-8")
    return load_taxonomy(p)


def test_lexicon_terms_rules_exclusions_and_passage_rules(tiny):
    m = LexiconMatcher(tiny)
    assert set(m.decide("合作协议应当约定知识产权归属。", "zh")) == {"measure.ip.legal"}
    assert m.decide("合作协议应当约定权属。", "zh") == {}                      # weak term without context
    assert set(m.decide("科技成果的权属由合同约定。", "zh")) == {"measure.ip.legal"}
    assert m.decide("商标的知识产权归属。", "zh") == {}                         # vetoed
    assert set(m.decide("建设孵化器。", "zh")) == {"model.incubator"}
    assert m.decide("违反规定建设孵化器的，处一万元罚款。", "zh") == {}          # penalty clause
    ev = m.decide("The contractor may retain title to any invention.", "en")
    assert {h.term for h in ev["measure.ip.legal"]} == {"retain title", "title to"}
    assert set(m.decide("Business incubators and incubation programs.", "en")) == {"model.incubator"}
    assert m.decide("The entitled party.", "en") == {}                         # whole words only
    hit = m.decide("Support incubators.", "en")["model.incubator"][0]
    assert (hit.term, hit.start, hit.end) == ("incubators", 8, 18)


def test_jieba_keeps_taxonomy_terms_whole_and_the_segmenter_matches_jieba():
    import jieba

    text = "国家鼓励科技成果转化和技术转移机构建设。" * 3
    toks = tokenize_texts([text], "zh", ("技术转移机构", "科技成果转化"))[0]
    assert "技术转移机构" in toks and "科技成果转化" in toks
    assert JiebaSegmenter().lcut(text) == jieba.lcut(text)
    tricky = [text, "第一条　国家 鼓励\n\n  AI 技术 2024年，R&D投入 3.5% 。\t（一）", " \n", "", "abc  def\u3000科技",
              (ROOT / "corpus" / "zh" / "CN" / "产学研合作促进条例.md").read_text(encoding="utf-8")]
    terms = ("技术转移机构", "科技成果转化")
    assert tokenize_texts(tricky, "zh", terms) == spacy_doc_tokens(tricky, "zh", terms)
    assert tokenize_texts(["Federal labs (a)(1) shall cooperate."], "en")[0][:3] == ["Federal", "labs", "("]


def _coded():
    return read_coded(sorted((ROOT / "taxonomy" / "examples").glob("*.jsonl")))


def test_model_learns_and_round_trips_without_pickle(tmp_path):
    tax = load_taxonomy(ROOT / "taxonomy")
    coded = _coded()
    model = fit_model(tax, coded)
    assert model.trained_.sum() >= 30
    model.save(tmp_path / "m")
    loaded = PolicyClassifier.load(tmp_path / "m", taxonomy=tax.path)
    probe = coded.head(40)
    X = passage_table(probe, tokenize_frame(probe, tax))
    assert np.allclose(model.predict_proba(X), loaded.predict_proba(X))
    # the model fits its own training data far better than chance
    Y = label_matrix(probe["labels"], tax.leaf_ids)
    pred = loaded.predict(X)
    assert (pred & Y).sum() / max(Y.sum(), 1) > 0.8
    # calibrated out-of-fold probabilities: where the model says 0.8-1.0 the node is mostly coded
    oof, Yall = model.oof_proba_, label_matrix(coded["labels"], tax.leaf_ids)
    high = oof >= 0.8
    assert Yall[high].mean() > 0.7 and Yall[oof < 0.1].mean() < 0.1
    # the coding conventions read the rule that fired from the passages' features, as finding it again would
    texts = ["第五十条 本条例自2020年1月1日起施行。", "第三条 本条例所称技术转移，是指科技成果的转让。",
             "第九条 违反本条例规定，侵犯专利权的，处一万元罚款。", "第四条 国家鼓励企业与高等学校开展产学研合作。",
             "(c) This section shall take effect on January 1.", "The Secretary shall be fined for the grant program.",
             "The Secretary shall support cooperative research and technology transfer."]
    conv = pd.DataFrame({"text": texts, "lang": ["zh"] * 4 + ["en"] * 3, "labels": [[]] * len(texts)})
    X = passage_table(conv, tokenize_frame(conv, tax)).assign(context="")
    F = loaded.features_.transform(loaded._frame(X))
    assert loaded._fired_conventions(F) == {0: "effective_date", 1: "definition", 2: "penalty", 4: "effective_date",
                                            5: "penalty"}
    part = np.full((len(texts), len(tax.leaf_ids)), 0.7)
    by_features, found_again = part.copy(), part.copy()
    loaded._apply_conventions(X, by_features, F)
    loaded._apply_conventions(X, found_again)
    assert np.array_equal(by_features, found_again) and (by_features[[0, 1, 4]] == 0.01).all()


def test_model_file_with_pickled_array_is_refused(tmp_path):
    tax = load_taxonomy(ROOT / "taxonomy")
    model = fit_model(tax, _coded().head(200))
    model.save(tmp_path / "m")
    arrays = dict(np.load(tmp_path / "m" / "arrays.npz"))
    arrays["coef"] = np.array([object()], dtype=object)
    np.savez(tmp_path / "m" / "arrays.npz", **arrays)
    with pytest.raises(ValueError):
        PolicyClassifier.load(tmp_path / "m", taxonomy=tax.path)


def test_tampered_model_folders_give_one_line_errors(tmp_path):
    """Edited JSON, a truncated .npz, wrong shapes: a ValueError naming the file, never a traceback."""
    import json
    import shutil

    tax = load_taxonomy(ROOT / "taxonomy")
    fit_model(tax, _coded().head(200)).save(tmp_path / "good")

    def broken(name, edit, file=""):
        d = tmp_path / name
        shutil.copytree(tmp_path / "good", d)
        edit(d)
        with pytest.raises(ValueError) as exc:
            PolicyClassifier.load(d, taxonomy=tax.path)
        # the damaged file itself where it is one file (a tester was pointed at the folder)
        assert str(d / file) in str(exc.value) and "\n" not in str(exc.value)

    def edit_json(d, **changes):
        meta = json.loads((d / "model.json").read_text())
        meta.update(changes)
        (d / "model.json").write_text(json.dumps(meta))

    broken("not-json", lambda d: (d / "model.json").write_text("{oops"), "model.json")
    broken("no-thresholds", lambda d: edit_json(d, thresholds=[0.5] * 3))
    broken("no-vocab", lambda d: edit_json(d, vocabularies={}))
    broken("truncated", lambda d: (d / "arrays.npz").write_bytes((d / "arrays.npz").read_bytes()[:100]), "arrays.npz")

    def wrong_shape(d):
        arrays = dict(np.load(d / "arrays.npz"))
        arrays["coef"] = arrays["coef"][:, :10]
        np.savez(d / "arrays.npz", **arrays)
    broken("shape", wrong_shape)


def test_coded_lines_of_the_wrong_type_are_refused_with_the_line(tmp_path):
    from pipeline.io import ConfigError

    for bad in ('{"id": "a", "text": null, "labels": []}', '{"id": "a", "text": 5, "labels": []}',
                '{"id": "a", "text": "x", "labels": "model.incubator"}'):
        p = tmp_path / "coded.jsonl"
        p.write_text('{"id": "ok", "text": "fine", "labels": []}\n' + bad + "\n", encoding="utf-8")
        with pytest.raises(ConfigError, match=r"coded.jsonl line 2"):
            read_coded([p])


def test_terms_match_whole_words_in_both_languages(tmp_path):
    """调解 inside 协调解决 is not mediation; 'incubat*' does not match inside 'nonincubated'."""
    raw = {"version": "w", "facets": FACETS, "nodes": [
        {"id": "model.incubator", "facet": "model", "name": {"en": "incubator", "zh": "孵化器"},  # an audited facet has a leaf
         "lexicon": {"zh": {"terms": ["孵化器"]}, "en": {"terms": ["business incubator"]}}},
        {"id": "measure.benefit.arbitration", "facet": "measure", "name": {"en": "arbitration", "zh": "仲裁"},
         "lexicon": {"zh": {"terms": ["调解", "技术转移"]}, "en": {"terms": ["incubat*", "mediation"]}}}]}
    p = tmp_path / "taxonomy.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    tax = load_taxonomy(p)
    m = LexiconMatcher(tax)
    terms = tuple(sorted(tax.all_terms("zh")))

    def zh_terms(text):
        return [h.term for h in m.match(text, "zh", tokenize_texts([text], "zh", terms)[0])]

    assert [h.term for h in m.match("双方应当协调解决合作中的问题。", "zh")] == ["调解"]  # a bare substring
    assert zh_terms("双方应当协调解决合作中的问题。") == []                               # cuts 协调|解决
    assert zh_terms("技术合同纠纷可以通过调解解决。") == ["调解"]
    assert zh_terms("设立技术转移机构。") == ["技术转移"]                                  # inside one compound
    assert zh_terms("国家鼓励新技术转移到企业。") == ["技术转移"]
    assert [h.node for h in m.match_many(["双方应当协调解决问题。"], ["zh"],
                                         tokens=[tokenize_texts(["双方应当协调解决问题。"], "zh", terms)[0]])[0]] == []
    assert not m.match("nonincubated eggs; intermediation", "en")
    assert [h.term for h in m.match("Incubators and mediation.", "en")] == ["Incubators", "mediation"]


def test_word_boundaries_are_those_of_the_tokens_placed_in_the_text():
    """The boundaries kept in the text without whitespace say of every span what placing each token in the text
    says: whether both ends are token boundaries, or the span lies inside one token."""
    import random

    from pipeline.lexicon import Hit, word_cuts

    rng = random.Random(7)
    for _ in range(3000):
        tokens = ["".join(rng.choice("协调解决技术转移机构ab1") for _ in range(rng.randint(1, 4)))
                  for _ in range(rng.randint(0, 8))]
        text = "".join(t + rng.choice(["", "", " ", "\u3000", "\n"]) for t in tokens)
        starts, ends, pos = [], [], 0
        for tok in tokens:
            pos = text.index(tok, pos)
            starts.append(pos)
            pos += len(tok)
            ends.append(pos)
        cuts, got = {0, len(text), *starts, *ends}, word_cuts(text, tokens)
        for a in range(len(text)):
            for b in range(a + 1, len(text) + 1):
                if text[a].isspace() or text[b - 1].isspace():
                    continue  # no term starts or ends with whitespace
                inside = any(s <= a and b <= e for s, e in zip(starts, ends))
                assert got.whole(Hit("n", text[a:b], a, b, "term")) == ((a in cuts and b in cuts) or inside), \
                    (tokens, text, a, b)
    assert word_cuts("协调解决", ["协调", "解"]).everywhere  # tokens that are not the text: every hit is whole


def test_glob_terms_extend_in_linear_time():
    """A glob term inside one enormous 'word' must not rescan the word per hit (it was quadratic)."""
    import time

    tax = load_taxonomy(ROOT / "taxonomy")
    m = LexiconMatcher(tax)
    small, big = "incubat" * 250, "incubat" * 5000
    t = time.perf_counter()
    m.match(small, "en")
    t_small = time.perf_counter() - t
    t = time.perf_counter()
    m.match(big, "en")
    t_big = time.perf_counter() - t
    assert t_big < 60 * max(t_small, 1e-3)  # 20x the text; quadratic would be 400x


def test_hybrid_labels_carry_evidence_and_groups_roll_up():
    tax = load_taxonomy(ROOT / "taxonomy")
    clf = PassageClassifier(tax, None)
    text = "第十条 国家设立的研究开发机构、高等院校应当通过本单位负责技术转移工作的机构或者委托独立的科技中介服务机构开展技术转移。"
    labels = clf.predict([text], ["zh"], [tokenize_texts([text], "zh")[0]])[0]
    nodes = {l.node for l in labels}
    assert "measure.platform.intermediary" in nodes
    for l in labels:
        assert l.evidence and all(text[e["start"]:e["end"]] == e["term"] for e in l.evidence if e["start"] >= 0)
    assert "measure.platform" in {g.node for g in clf.rollup(labels)}
    neg = "第五十条 本条例自2020年1月1日起施行。"
    assert clf.predict([neg], ["zh"], [tokenize_texts([neg], "zh")[0]])[0] == []


def test_jieba_dictionary_loaded_in_one_piece_is_jiebas_own():
    """The tokenize stage reads jieba's dictionary cache itself (faster); the dictionary must be the one
    jieba.initialize() builds, and jieba must be left as it was."""
    import subprocess
    import sys

    code = """
import json, logging, marshal, sys
import jieba
jieba.setLogLevel(logging.WARNING)
if sys.argv[1] == "ours":
    from pipeline.jieba_adapter import initialize_jieba
    initialize_jieba(jieba)
    assert jieba.marshal is marshal
else:
    jieba.initialize()
print(json.dumps([jieba.dt.total, len(jieba.dt.FREQ), jieba.lcut("国家鼓励企业与高等学校联合建立研究开发平台")]))
"""
    runs = [subprocess.run([sys.executable, "-c", code, which], capture_output=True, text=True, check=True,
                           cwd=ROOT).stdout for which in ("ours", "jieba")]
    assert runs[0] == runs[1] and runs[0].strip()


def test_a_new_default_model_removes_the_ones_it_supersedes_only(tmp_path):
    import json as _json

    from pipeline.classify import _remove_superseded

    def model(name, trained_on):
        d = tmp_path / name
        d.mkdir()
        (d / "model.json").write_text(_json.dumps({"info": {"trained_on": trained_on}}))
        return d

    import os

    ours = ["taxonomy/examples/en.jsonl"]
    current = model("default-new", ours)
    # older models of the same examples, last used 4, 3, 2 and 1 hours ago: a term added and removed again
    # goes back to one of the recent ones, so the most recent are kept (KEPT_DEFAULT_MODELS with the current)
    older = [model(f"default-old{i}", ours) for i in range(4)]
    for i, d in enumerate(older):
        os.utime(d, (time.time() - 3600 * (4 - i),) * 2)
    other = model("default-other", ["elsewhere/examples/en.jsonl"])  # another taxonomy's default model
    broken = tmp_path / "default-broken"
    broken.mkdir()
    _remove_superseded(current, ours)
    assert current.exists() and other.exists() and broken.exists()
    assert [d.exists() for d in older] == [False, False, True, True]


def test_going_back_to_a_default_model_marks_it_used(tmp_path, monkeypatch):
    """A default model reused (not trained) counts as recent, so _remove_superseded keeps it."""
    import os

    from pipeline import classify

    d = tmp_path / "models" / "default-abc"
    d.mkdir(parents=True)
    (d / "model.json").write_text("{}")
    os.utime(d, (time.time() - 86400,) * 2)
    monkeypatch.setattr(classify, "examples_paths", lambda _: [tmp_path / "taxonomy/examples/en.jsonl"])
    monkeypatch.setattr(classify, "default_model_dir", lambda _: d)
    assert classify.build_default_model(tmp_path / "taxonomy", None) == d
    assert time.time() - d.stat().st_mtime < 60


def test_char_ngram_counts_are_scikit_learns():
    """The automaton counts char_wb n-grams of a fixed vocabulary exactly as scikit-learn does (the same matrix,
    entry for entry and in the same types), so a model's features are the same bytes."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    from pipeline.model import _lower_digits
    from pipeline.ngrams import CharTfidfVectorizer

    train = ["国家鼓励科技成果转化。", "The Secretary shall make grants to small business concerns.",
             "a b  c\td\n\ne", "技术 转移\u3000机构 tech transfer", "x", "", "第十条　本条例自2020年1月1日起施行。"]
    texts = train + ["Grants, grants and GRANTS!", "成果转化和技术转移", "  ", "ab\u2028cd", "ſhall İ ı K"]
    for ngrams, pre in (((1, 3), _lower_digits), ((2, 3), None), ((1, 1), None), ((3, 5), None)):
        ours, theirs = (cls(analyzer="char_wb", ngram_range=ngrams, preprocessor=pre, sublinear_tf=True)
                        for cls in (CharTfidfVectorizer, TfidfVectorizer))
        ours.fit(train)
        theirs.fit(train)
        assert ours.vocabulary_ == theirs.vocabulary_
        for a, b in ((ours.transform(texts), theirs.transform(texts)),
                     (ours._count_vocab(texts, True)[1], theirs._count_vocab(texts, True)[1])):
            assert type(a) is type(b) and sp.issparse(a)
            for attr in ("data", "indices", "indptr"):
                x, y = getattr(a, attr), getattr(b, attr)
                assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), (ngrams, attr)


def test_word_feature_counts_are_scikit_learns():
    """Word unigrams and bigrams counted over distinct tokens and arrays give scikit-learn's matrix exactly
    (case folding beyond ASCII, punctuation dropped between the words of a bigram, repeats, empty passages,
    words only in bigrams of the vocabulary); tokens with spaces go to scikit-learn's own loop."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    from pipeline.ngrams import WordTfidfVectorizer, word_features

    train = [["The", "Secretary", "shall", "make", "grants", "to", "small", "business", "concerns", "."],
             ["国家", "鼓励", "科技成果转化", "，", "科技成果转化", "。"], ["Grants", "for", "SMALL", "business"],
             ["İstanbul", "ſhall", "ǅemal", "k", "_", "__", "a_b", "x1"], [], ["技术", "转移"],
             ["small", "business", "small", "business"]]
    tests = train + [["GRANTS", "for", "Small", "Business", "!", "business"], ["—", "small", "—", "business"],
                     ["istanbul", "i̇stanbul", "İSTANBUL"], [], ["科技成果转化", "科技成果转化", "鼓励"],
                     ["unknown", "words", "only"], ["Secretary", "shall", "secretary", "SHALL"]]
    with_space = tests + [["small business", "concerns"]]
    for texts in (tests, with_space):
        ours, theirs = (cls(analyzer=word_features, lowercase=False, sublinear_tf=True)
                        for cls in (WordTfidfVectorizer, TfidfVectorizer))
        ours.fit(train)
        theirs.fit(train)
        assert ours.vocabulary_ == theirs.vocabulary_
        assert (ours._count_words(texts) is None) == (texts is with_space)  # the fast counting, or not
        for a, b in ((ours.transform(texts), theirs.transform(texts)),
                     (ours._count_vocab(texts, True)[1], theirs._count_vocab(texts, True)[1])):
            assert type(a) is type(b) and sp.issparse(a)
            assert a.nnz > 20
            for attr in ("data", "indices", "indptr"):
                x, y = getattr(a, attr), getattr(b, attr)
                assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), attr


def test_literal_tests_skip_only_regexes_that_cannot_match(tmp_path):
    """Passage rules are not run on text without their required literals; never on text where they match,
    whatever the case of its letters (the long s matches s in a case-insensitive regex)."""
    from pipeline.lexicon import _literal_tests

    raw = dict(TINY, passage_rules=TINY["passage_rules"] + [
        {"id": "penalty", "lang": "en", "patterns": ["(?i)\\bshall be fined\\b", "civil penalt(?:y|ies) of"],
         "allow": ["measure.ip.legal"]}])
    p = tmp_path / "taxonomy.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    m = LexiconMatcher(load_taxonomy(p))
    assert [k for k, _ in _literal_tests("违反本(?:条例|法)[^。]{0,20}?(?:罚款|处分)")] == ["caseless"] * 3
    fired = []
    for text, lang in (("违反规定的，处一万元罚款。", "zh"), ("违反规定的，处以罚款。", "zh"), ("罚款", "zh"),
                       ("He shall be fined.", "en"), ("He SHALL BE FINED.", "en"), ("Civil penaltieſ of.", "en"),
                       ("He shall be fine.", "en"), ("Civil penalties of $5.", "en"), ("civil penalty of", "en")):
        brute = next((r for r, rxs in m._passage_rules[lang] if any(rx.search(text) for rx, _ in rxs)), None)
        assert m.passage_rule(text, lang) is brute, text
        fired.append(brute is not None)
    assert fired == [True, True, False, True, True, True, False, True, True]  # the regexes found these


def test_a_passages_hits_do_not_depend_on_the_passages_around_it():
    """Matching a document's passages together gives each passage the hits it has alone. Two ways the joined
    text used to lose pattern hits: a pattern anchored at the start of an article matched only the first
    passage of each batch, and a match running from one passage into the next hid the next passage's own."""
    m = LexiconMatcher(load_taxonomy(ROOT / "taxonomy"))
    docs = [("zh", ["第一条 为了推动产学研合作，制定本条例。", "第二条 本省建设产业创新平台，服务中小企业。"]),
            ("en", ["(1) a preference", "(2) preference for a small business concern located in a rural area."])]
    for lang, texts in docs:
        alone = [m.match(t, lang) for t in texts]
        together = m.match_many(texts, [lang] * len(texts), [lang] * len(texts))
        assert together == alone
        assert any(h.role == "pattern" for h in alone[1]), texts[1]
    zh_second = {h.node for h in m.match_many(docs[0][1], ["zh", "zh"], ["d", "d"])[1] if h.role == "pattern"}
    assert "model.gov_platform" in zh_second


def test_a_runs_model_is_recorded_by_the_digest_of_its_files(tmp_path):
    """run.json names the model by its files' digest: `make train` writes models/trained again each time."""
    from pipeline.classify import model_digest

    m = tmp_path / "trained"
    m.mkdir()
    (m / "model.json").write_text('{"format": 1}')
    (m / "arrays.npz").write_bytes(b"one")
    first = model_digest(str(m))
    assert len(first) == 64 and model_digest("lexicon") == "" and model_digest("") == ""
    (m / "arrays.npz").write_bytes(b"two")  # trained again, same folder
    assert model_digest(str(m)) != first
    assert model_digest(f"{m},{m}") == f"{model_digest(str(m))},{model_digest(str(m))}"


def test_model_evidence_marks_the_whole_n_gram_where_it_occurs():
    from pipeline.classify import _feature_evidence

    text = "Federal laboratories and universities; 科技成果转化 and more."
    assert _feature_evidence(text, "federal laboratories") == {"term": "federal laboratories", "start": 0,
                                                                "end": 20, "rule": "model"}
    e = _feature_evidence(text, "科技 成果")  # Chinese tokens run together in the text
    assert text[e["start"]:e["end"]] == "科技成果"
    e = _feature_evidence(text, "laboratories more")  # apart in the text: the first word
    assert text[e["start"]:e["end"]] == "laboratories"
    assert _feature_evidence(text, "absent words")["start"] == -1


def test_an_unknown_node_in_coded_data_is_named_with_where_it_is_first_used(tmp_path):
    import pytest

    from pipeline.classify import check_labels, read_coded
    from pipeline.io import ConfigError
    from pipeline.taxonomy import load_taxonomy

    f = tmp_path / "coded.jsonl"
    f.write_text('{"id": "p1", "text": "x", "labels": ["model.incubator"]}\n'
                 '{"id": "p2", "text": "y", "labels": ["model.no_such_node"]}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"model\.no_such_node \(coded\.jsonl, passage p2\)"):
        check_labels(load_taxonomy(ROOT / "taxonomy"), read_coded([f]))


def test_a_pool_with_repeated_or_missing_ids_empty_text_or_another_language_is_read_with_warnings(tmp_path, caplog):
    """Read all the same (a pool is the researcher's), each problem named with the file and the line."""
    import logging

    from pipeline.classify import read_coded

    f = tmp_path / "pool.jsonl"
    f.write_text('{"id": "a", "text": "国家鼓励企业与高等学校共建研发平台。", "lang": "zh"}\n'
                 '{"id": "a", "text": "technology transfer offices", "lang": "fr"}\n'
                 '{"text": "no id"}\n{"id": "e", "text": ""}\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        d = read_coded([f])
    assert len(d) == 4 and d["lang"].tolist()[1] == "en"
    said = caplog.text
    for part in ("line 2 has the id of line 1 (a)", "line 2: lang 'fr' is neither zh nor en; read as en",
                 "line 3 has no id (named pool.jsonl#3)", "line 4 has no text"):
        assert f"{f}: {part}" in said, said


def test_coding_conventions_know_court_procedure_taiwan_purposes_and_definitions_with_shi_zhi():
    """Conventions a tester found the matcher blind to: a judicial interpretation's procedure (jurisdiction,
    pleadings, retrial, a letter of reply), a Taiwan purpose clause (订定), a definition written 中的…是指.
    A regulation's 不再审批 (no more approval) is not a retrial."""
    from pipeline.lexicon import shared_matcher
    m = shared_matcher(load_taxonomy(ROOT / "taxonomy"))
    rule = lambda text: getattr(m.passage_rule(text, "zh"), "id", None)
    assert rule("第四十三条 技术合同纠纷案件一般由中级以上人民法院管辖。") == "court_procedure"
    assert rule("第一条 当事人提起知识产权侵权诉讼的，起诉状应当载明被诉侵权的专利号。") == "court_procedure"
    assert rule("你院《关于专利侵权诉讼问题的请示》收悉。经研究，批复如下：") == "court_procedure"
    assert rule("第一条 为促进产学合作研发成果之运用，特订定本办法。") == "purpose"
    assert rule("第二条 本规定中的知识产权纠纷是指专利权、商业秘密等权利的纠纷。") == "definition"
    assert rule("第十三条 高等学校可以自主决定科技成果的转让，相关部门不再审批或者备案。") is None


def test_a_traditional_chinese_passage_of_a_jsonl_file_is_coded_as_its_simplified_text(tmp_path):
    """classify --in (and train, evaluate, a review pool) read passages with read_coded, which passed Traditional
    text to the Simplified lexicon and model as it was: 產學研合作, 引導基金 got no label at all."""
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"id": "t", "text": "第十二條 政府設立創業投資引導基金，支持科技成果轉化。"}\n'
                   '{"id": "s", "text": "第十二条 政府设立创业投资引导基金，支持科技成果转化。"}\n', encoding="utf-8")
    out = tmp_path / "pred.jsonl"
    res = subprocess.run([sys.executable, "-m", "pipeline", "classify", "--in", str(inp), "--out", str(out),
                          "--model", "lexicon"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    trad, simp = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert "measure.government.guidance_fund" in simp["labels"]
    assert trad["labels"] == simp["labels"] and trad["evidence"] == simp["evidence"]


def test_a_repeated_id_whose_labels_differ_is_said_with_both_codings(tmp_path, caplog):
    """TRAIN= with one passage coded twice, differently, warned only that the rows 'cannot be told apart':
    nothing said the model was taught both answers."""
    import logging

    from pipeline.classify import read_coded

    f = tmp_path / "coded.jsonl"
    f.write_text('{"id": "d#1", "text": "支持建设孵化器。", "labels": ["model.incubator"]}\n'
                 '{"id": "d#2", "text": "本条例自公布之日起施行。", "labels": []}\n'
                 '{"id": "d#1", "text": "支持建设孵化器。", "labels": []}\n'
                 '{"id": "d#2", "text": "本条例自公布之日起施行。", "labels": []}\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        read_coded([f])
    said = caplog.text
    assert "line 3 has the id of line 1 (d#1): their rows cannot be told apart; their labels differ " \
           "(none against model.incubator)" in said, said
    assert "line 4 has the id of line 2 (d#2): their rows cannot be told apart\n" in said + "\n", said
    assert "line 4 has the id of line 2 (d#2): their rows cannot be told apart;" not in said


def test_an_empty_file_of_coded_passages_is_warned_about(tmp_path, caplog):
    """make train TRAIN=empty.jsonl installed a model of the taxonomy's examples alone, saying only
    '0 passages of the TRAIN files'."""
    import logging

    from pipeline.classify import read_coded

    f = tmp_path / "empty.jsonl"
    f.write_text("\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert len(read_coded([f])) == 0
    assert f"{f}: holds no coded passages" in caplog.text, caplog.text


def test_the_model_that_made_the_labels_is_said_by_name_and_training(tmp_path):
    """The reports name the model behind the labels (a tester could not tell from summary.md whether `make
    default-model` had taken effect): its folder and what it was trained on, never an absolute path."""
    from pipeline.classify import model_said

    trained, default = tmp_path / "models" / "trained", tmp_path / "models" / "default-0123456789ab"
    trained.mkdir(parents=True)
    default.mkdir()
    (trained / "model.json").write_text(json.dumps({"info": {"trained_on": ["12 passages of the coded store (coded.jsonl) x6",
                                                                            "886 taxonomy examples (zh.jsonl)"],
                                                             "passages": 898}}), encoding="utf-8")
    (default / "model.json").write_text(json.dumps({"info": {"trained_on": ["/x/examples/zh.jsonl"], "passages": 886}}),
                                        encoding="utf-8")
    # the folder's name quoted: "the model trained, trained on" read as a typo
    assert model_said(str(trained)) == ("the model 'trained', trained on 12 passages of the coded store "
                                        "(coded.jsonl) x6 + 886 taxonomy examples (zh.jsonl)")
    assert model_said(str(default)) == "the default model (default-0123456789ab, trained on the framework's 886 example passages)"
    assert model_said("lexicon") == "the taxonomy's lexicon alone (MODEL=lexicon)"
    assert model_said(f"{default},lexicon").startswith("the default model (") and str(tmp_path) not in model_said(str(trained))
    assert model_said("") == ""


def test_train_and_evaluate_answer_a_mistyped_node_id_with_the_leaf_it_means():
    from pipeline.classify import check_labels
    from pipeline.io import ConfigError
    from pipeline.taxonomy import load_taxonomy

    coded = pd.DataFrame({"id": ["a.md#1", "a.md#2"], "source": ["gold.jsonl"] * 2,
                          "labels": [["Model.Tech_Transfer"], ["measure.ip"]]})
    with pytest.raises(ConfigError) as exc:
        check_labels(load_taxonomy(ROOT / "taxonomy"), coded)
    assert "Model.Tech_Transfer (gold.jsonl, passage a.md#1; did you mean model.tech_transfer?)" in str(exc.value)
    assert "measure.ip (gold.jsonl, passage a.md#2)" in str(exc.value) and "group IDs" in str(exc.value)


def test_a_model_folder_that_does_not_exist_is_said_to_be_missing(tmp_path):
    """MODEL=models/trianed (a slip) said 'not a model folder (no model.json)', as if the folder were there."""
    from pipeline.classify import model_path
    from pipeline.io import ConfigError
    from pipeline.taxonomy import load_taxonomy

    tax = load_taxonomy(ROOT / "taxonomy")
    with pytest.raises(ConfigError, match="model folder not found"):
        model_path(str(tmp_path / "models" / "trianed"), ROOT / "taxonomy", tax)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"not a model folder \(no model.json\)"):
        model_path(str(tmp_path / "empty"), ROOT / "taxonomy", tax)


def test_training_shows_its_fits_when_asked_and_keeps_that_out_of_the_model(tmp_path, capsys):
    """`make train` on thousands of coded passages said nothing for minutes between its first and last line: a
    progress bar over the fits (verbose, as the train command sets it in a terminal). Whether it was shown is
    no parameter of the model: model.json is the same either way."""
    from pipeline.classify import examples_paths, fit_model, read_coded
    from pipeline.taxonomy import load_taxonomy

    tax = load_taxonomy(ROOT / "taxonomy")
    coded = read_coded(examples_paths(ROOT / "taxonomy")).iloc[::4].reset_index(drop=True)
    quiet = fit_model(tax, coded)
    assert "train: fits" not in capsys.readouterr().err
    shown = fit_model(tax, coded, verbose=True)
    assert "train: fits (folds, then all)" in capsys.readouterr().err
    quiet.save(tmp_path / "q")
    shown.save(tmp_path / "s")
    assert (tmp_path / "q" / "model.json").read_bytes() == (tmp_path / "s" / "model.json").read_bytes()


def test_a_passage_whose_lang_plainly_is_the_other_language_is_read_as_it_is(tmp_path, caplog):
    """Chinese text marked lang 'en' was taken as English: English tokens, no Chinese term, no label."""
    import logging

    from pipeline.classify import read_coded

    f = tmp_path / "c.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "a#1", "lang": "en", "text": "第十条 鼓励企业与高等学校共建联合实验室。", "labels": []},
        {"id": "a#2", "lang": "zh", "text": "The Secretary shall establish a program of cooperative research.", "labels": []},
        {"id": "a#3", "lang": "en", "text": "The 产学研 (industry-university-research) partnership program.", "labels": []},
    ]) + "\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        coded = read_coded([f])
    assert coded["lang"].tolist() == ["zh", "en", "en"]
    assert "line 1: lang 'en', but the text is plainly 'zh'; read as zh" in caplog.text
    assert "line 2: lang 'zh', but the text is plainly 'en'" in caplog.text and "line 3" not in caplog.text


def test_english_terms_match_across_a_line_break_left_in_the_text():
    """Ingest joins only lines as long as wrapped text runs, and in a plain text not before a capitalised word:
    'joint' / 'research centres' in a narrow column, 'Joint Research' / 'Centres' in an export, kept their
    break, and no term with a space in it matched there. A term still holds no blank line."""
    m = LexiconMatcher(load_taxonomy(ROOT / "taxonomy"))

    def terms(text):
        return [(h.node, h.term) for h in m.match(text, "en") if h.role == "term"]

    assert ("model.joint_research_center", "joint\nresearch centres") in terms(
        "The council will support joint\nresearch centres in every region.")
    assert ("model.joint_research_center", "Joint Research\nCentres") in terms(
        "Universities shall set up Joint Research\nCentres with industry partners.")
    assert not [t for t in terms("The council will support joint\n\nresearch centres.") if "joint" in t[1]]
    texts = ["Firms may fund joint", "research centres."]
    assert not [h for h in m.match_many(texts, ["en", "en"], ["en", "en"])[0] if h.role == "term"]


def test_with_several_frameworks_each_model_is_said_with_its_framework(tmp_path):
    """A crossed run's summary read "Labels by the default model (default-a…, … 886 example passages); the default
    model (default-b…, … 210 example passages)": which framework each labelled was left to guess."""
    from pipeline.classify import model_said

    a, b = tmp_path / "default-aaaaaaaaaaaa", tmp_path / "default-bbbbbbbbbbbb"
    for d, n in ((a, 886), (b, 210)):
        d.mkdir()
        (d / "model.json").write_text(json.dumps({"info": {"passages": n}}), encoding="utf-8")
    said = model_said(f"{a},{b}", ["Cooperation", "Policy tools"])
    assert said == ("the default model (default-aaaaaaaaaaaa, trained on the framework's 886 example passages) for "
                    "Cooperation; the default model (default-bbbbbbbbbbbb, trained on the framework's 210 example "
                    "passages) for Policy tools")
    assert model_said(str(a), ["Cooperation"]) == model_said(str(a))  # one framework: nothing to tell apart


def test_untrained_nodes_are_decided_by_the_lexicon_whatever_its_feature_weight():
    """A node with too few coded passages to train is decided by the lexicon (at lexicon_prior). With
    lexicon_weight 0 its decisions were read out of feature columns scaled to zero: such a node never fired."""
    tax = load_taxonomy(ROOT / "taxonomy")
    coded = _coded().head(200)
    X = passage_table(coded, tokenize_frame(coded, tax))
    fired = {}
    for weight in (1.0, 0.0):
        model = fit_model(tax, coded, min_positives=10**6, lexicon_weight=weight, cv=2)  # no node trained
        assert not model.trained_.any()
        fired[weight] = model.predict_proba(X) > 0.02
    assert fired[0.0].any() and np.array_equal(fired[0.0], fired[1.0])
