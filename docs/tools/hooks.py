"""MkDocs hooks (mkdocs.yml: ``hooks``).

- The repository's ``assets/`` (the reproduction report, its figures, the benchmark outputs, images) become part
  of the site under ``assets/``, where they are, so pages link to them (``../assets/...``) and the strict build
  checks those links; ``assets/reproduction/NOTES.md`` stays out (the report includes it).
- ``<!-- generated: NAME [ARG] -->`` on a line of its own is replaced by text generated from the code
  (docs/tools/generated.py).
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from mkdocs.structure.files import File

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generated import GENERATORS, ROOT  # noqa: E402

MARKER = re.compile(r"^<!-- generated: ([\w-]+)(?: ([^>]*?))? -->$", re.M)
ASSET_SUFFIXES = {".png", ".txt", ".md"}
LEFT_OUT = {"assets/reproduction/NOTES.md"}


def on_files(files, config):
    for path in sorted((ROOT / "assets").rglob("*")):
        rel = path.relative_to(ROOT).as_posix()
        if path.is_file() and path.suffix in ASSET_SUFFIXES and rel not in LEFT_OUT:
            files.append(File(rel, src_dir=str(ROOT), dest_dir=config["site_dir"],
                              use_directory_urls=config["use_directory_urls"]))
    return files


def expand(markdown: str, where: str = "") -> str:
    """The page's markers replaced by their generated text; an unknown generator is an error naming the page."""
    def one(m: re.Match) -> str:
        name, arg = m.group(1), (m.group(2) or "").strip()
        if name not in GENERATORS:
            raise ValueError(f"{where}: unknown generated block '{name}'; known: {', '.join(GENERATORS)}")
        return GENERATORS[name](arg)

    return MARKER.sub(one, markdown)


def on_page_markdown(markdown, page, config, files):
    return expand(markdown, page.file.src_uri)
