from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def content(path: Path):
    """A file's bytes, or for a table folder (one Parquet part per chunk) its files' names and bytes."""
    if path.is_dir():
        return [(p.name, p.read_bytes()) for p in sorted(path.iterdir())]
    return path.read_bytes()

CN_REGULATION = textwrap.dedent("""\
    # 某省促进产学研合作条例

    2020年1月1日 某省人民代表大会常务委员会通过

    <!-- INFO END -->

    ## 第一章 总则

    第一条 为了促进产学研合作，制定本条例。

    第二条 本条例所称产学研合作，是指企业与高等学校、科研院所开展的合作。

    ## 第二章 合作方式

    第三条 鼓励企业与高等学校共同建立联合实验室。

    合作各方应当签订协议，约定知识产权归属。

    第四条 对下列活动予以支持：
    （一）技术转移；
    （二）中试熟化。

    ## 第三章 附则

    第五条 本条例自2020年3月1日起施行。
    """)

US_CODE = textwrap.dedent("""\
    # Title 99— DEMO
    ### CHAPTER 1— COOPERATION
    #### § 101. Cooperative agreements

    (a) In general

    (1) Each laboratory may enter into cooperative research and development agreements.

    (2) The director shall report annually.

    (A) the number of agreements; and

    (B) the royalties received.

    (b)

    (1) Inventors shall receive a share of royalties.

    #### § 102. Definitions

    The term "laboratory" means a facility.
    """)


@pytest.fixture
def taxonomy_dir() -> Path:
    return ROOT / "taxonomy"


def write(path: Path, data: bytes | str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def shared_or_skip(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"{p} not available")
    return p


def edit_code(monkeypatch, module: str) -> None:
    """Make the stage fingerprints see an edited `pipeline/<module>.py` (a comment added), as after an upgrade."""
    from pipeline import nodes

    original = nodes._source
    monkeypatch.setattr(nodes, "_source",
                        lambda m: original(m) + (b"\n# edited\n" if m == module else b""))
