"""Every full pantau config shown in the docs (a fenced yaml block with a top-level `site:`)
passes check-config, and the docs' links point at files that exist: a reader who copies a
block gets a config that loads. Secrets written as ${NAME} are set to placeholders here, and
the files a block names under /etc/pantau (a CA, a password file, a logo, the web config) are
stand-ins in a temp dir: what is checked is the config, not this machine's /etc."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.agent import run_cli

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```ya?ml[^\n]*\n(.*?)^```", re.M | re.S)
ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
LINK = re.compile(r"\]\(([^)\s]+)\)")
FILES = re.compile(r"/etc/pantau/[A-Za-z0-9_.-]+")
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d4944415478da63f8ffff3f0005fe02fea73581e40000"
                    "000049454e44ae426082")


def doc_files() -> list[Path]:
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    files += [p for p in [REPO / "README.id.md"] if p.exists()]
    files += sorted((REPO / "docs" / "panduan").glob("*.md"))
    return files


def config_blocks() -> list[tuple[str, str]]:
    out = []
    for f in doc_files():
        text = f.read_text(encoding="utf-8")
        for i, m in enumerate(FENCE.finditer(text)):
            block = m.group(1)
            if re.search(r"^site:", block, re.M):
                line = text[: m.start()].count("\n") + 1
                out.append((f"{f.relative_to(REPO)}:{line}#{i}", block))
    return out


BLOCKS = config_blocks()


def test_the_readme_example_is_among_them() -> None:
    assert any(name.startswith("README.md:") for name, _ in BLOCKS)
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize(("name", "block"), BLOCKS, ids=[n for n, _ in BLOCKS])
def test_doc_config_passes_check_config(name: str, block: str, tmp_path: Path) -> None:
    from tests.helpers.certs import make_pki

    pki = make_pki(tmp_path)
    stand_ins = tmp_path / "etc-pantau"
    stand_ins.mkdir()
    for ref in set(FILES.findall(block)):
        name = ref.rsplit("/", 1)[1]
        if name.endswith(".pem"):
            data = pki["ca"].read_bytes()
        elif name.endswith(".png"):
            data = PNG
        elif "blackbox" in name:  # a blackbox_exporter modules file, in its own format
            data = (b"modules:\n  http_2xx: {prober: http, timeout: 5s}\n"
                    b"  tcp_connect: {prober: tcp}\n  icmp: {prober: icmp}\n")
        elif name.endswith((".yml", ".yaml")):
            data = b"{}\n"  # a web config with neither TLS nor users
        else:
            data = b"placeholder-secret\n"
        (stand_ins / name).write_bytes(data)
        block = block.replace(ref, str(stand_ins / name))
    path = tmp_path / "pantau.yml"
    path.write_text(block, encoding="utf-8")
    env = {var: "123456:placeholder-secret" for var in ENV.findall(block)}
    r = run_cli("check-config", str(path), env=env)
    assert r.returncode == 0, f"{name}:\n{r.stderr}"


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_exist(doc: Path) -> None:
    for target in LINK.findall(doc.read_text(encoding="utf-8")):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue  # URLs and anchors
        rel = target.split("#", 1)[0]
        assert (doc.parent / rel).exists(), f"{doc.name}: link to {target} is broken"


def test_readme_first_command_runs_as_root_without_sudo() -> None:
    """A root-only Debian server has no sudo: the first command must not need it, and every
    pantau sub-command it calls must exist."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Set up (fresh Debian 12)", 1)[1].split("\n## ", 1)[0]
    first = next(ln.strip() for ln in section.splitlines() if ln.startswith("    "))
    assert "sudo" not in first.split(), first
    assert "/opt/pantau/bin/pip install ." in first
    subcommands = re.findall(r"bin/pantau (\w[\w-]*)", first)
    assert subcommands == ["install"], first
    for sub in subcommands:
        r = run_cli(sub, "--help")
        assert r.returncode == 0, r.stderr


def test_indonesian_docs_reach_every_panduan_page() -> None:
    """README.id.md and the panduan index link every page of docs/panduan/, and each page
    shows at least one config or command an admin can copy."""
    pages = {p.name for p in (REPO / "docs" / "panduan").glob("*.md")} - {"README.md"}
    assert len(pages) >= 7
    readme_id = (REPO / "README.id.md").read_text(encoding="utf-8")
    index = (REPO / "docs" / "panduan" / "README.md").read_text(encoding="utf-8")
    for page in pages:
        assert f"docs/panduan/{page}" in readme_id, f"README.id.md does not link {page}"
        assert f"({page})" in index, f"docs/panduan/README.md does not link {page}"
        text = (REPO / "docs" / "panduan" / page).read_text(encoding="utf-8")
        assert "\n    " in text or "```" in text, f"{page} shows nothing to run"
    panduan_blocks = [n for n, _ in BLOCKS if n.startswith("docs/panduan/")]
    assert len(panduan_blocks) >= 5, panduan_blocks
