"""The one adapter over Python's private regex parser: fails if a Python release changes the syntax tree."""
from pipeline.lexicon import required_literals
from pipeline.regex_syntax import ops, parse
from pipeline.taxonomy import MAX_BACKTRACKING_PATHS, _paths


def test_the_syntax_tree_has_the_shape_the_taxonomy_and_lexicon_read():
    tree = list(parse("ab(c|de)*f{2,3}(?<!x)"))
    assert [op for op, _ in tree[:2]] == [ops.LITERAL, ops.LITERAL] and tree[0][1] == ord("a")
    op, (lo, hi, body) = tree[2]
    assert op is ops.MAX_REPEAT and (lo, hi) == (0, ops.MAXREPEAT)
    (sub_op, sub_av), = list(body)
    assert sub_op is ops.SUBPATTERN
    (branch_op, (_, alternatives)), = list(sub_av[-1])
    assert branch_op is ops.BRANCH and len(alternatives) == 2
    op, (lo, hi, _) = tree[3]
    assert op is ops.MAX_REPEAT and (lo, hi) == (2, 3)
    assert tree[4][0] is ops.ASSERT_NOT


def test_what_is_built_on_it():
    assert required_literals("产学研(合作|结合)", False) == {"产学研"}
    assert required_literals("(?:技术转移|成果转化)中心", False) == {"技术转移", "成果转化"}  # the longer minimum
    assert required_literals("tech.*transfer", True) == {"transfer"}
    assert _paths(parse("a{1,3}(bb|cc)")) == 4 * 2
    assert _paths(parse("(a+)+b")) > MAX_BACKTRACKING_PATHS and _paths(parse(r"(a)\1")) > MAX_BACKTRACKING_PATHS
