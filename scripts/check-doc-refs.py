#!/usr/bin/env python3
"""Fails when a reference in the repository does not resolve inside it.

Code and documents cite the protocol and the architecture by anchor
(docs/protocol.md, "How to cite this file"): `docs/protocol.md#s7-6`
(older text: `PROTOCOL §7.6`), the decisions `D-5` and quirks `Q-8`, and
`docs/architecture.md#design-2-6` (older text: `DESIGN §2.6`). Each must name an anchor that exists;
and nothing may point at the notes kept outside it (the ../shared folder;
in code, the notes files by name and the style notes' "STYLE Gn"); no issue numbers.

    scripts/check-doc-refs.py        # from anywhere; exit 1 listing each broken reference
"""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHECKED = re.compile(r"\.(cpp|hpp|h|py|sh|md|build|txt|service|example|conf|cfg)$|^meson_options\.txt$")

ANCHOR = re.compile(r'<a id="([^"]+)"></a>')
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.M)
DOC_LINK = re.compile(r"docs/([\w./-]+\.md)#([\w-]+)")
LOCAL_LINK = re.compile(r"\]\(#([\w-]+)\)")
PROTOCOL = re.compile(r"PROTOCOL(?:\.md)?\s*§\s*(\d+(?:\.\d+)?)")
DESIGN = re.compile(r"DESIGN(?:\.md)?\s*§\s*(\d+(?:\.\d+)?)")
DECISION = re.compile(r"(?<![\w-])([DQ])-(\d+)(?![\w-])")
OUTSIDE = re.compile(r"\.\./shared/")
# In code: the notes files by name, and the style notes, are not in the repository.
OUTSIDE_IN_CODE = re.compile(r"\b(PROTOCOL|DESIGN|STYLE)\.md\b|\bSTYLE G\d+")
# Anywhere: issue numbers mean nothing to someone who clones the repository.
ISSUE_NUMBER = re.compile(r"\b[Ii]ssues? \d+")


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[`*_\[\]()]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors_of(path, cache={}):
    if path not in cache:
        try:
            text = open(os.path.join(ROOT, path), encoding="utf-8").read()
        except OSError:
            cache[path] = None
        else:
            cache[path] = set(ANCHOR.findall(text)) | {slug(h) for h in HEADING.findall(text)}
    return cache[path]


def main():
    files = subprocess.run(["git", "-C", ROOT, "ls-files"], stdout=subprocess.PIPE, text=True, check=True).stdout.split()
    broken = []
    checked = 0

    def need(path, anchor, where, text):
        nonlocal checked
        checked += 1
        found = anchors_of(path)
        if found is None:
            broken.append(f"{where}: {text}: {path} does not exist")
        elif anchor not in found:
            broken.append(f"{where}: {text}: {path} has no anchor #{anchor}")

    for rel in files:
        if not CHECKED.search(os.path.basename(rel)) or rel.startswith(("fuzz/corpus", "tests/data")):
            continue
        try:
            lines = open(os.path.join(ROOT, rel), encoding="utf-8").read().splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        for n, line in enumerate(lines, 1):
            where = f"{rel}:{n}"
            for m in DOC_LINK.finditer(line):
                need("docs/" + m.group(1), m.group(2), where, m.group(0))
            if rel.endswith(".md"):
                for m in LOCAL_LINK.finditer(line):
                    need(rel, m.group(1), where, m.group(0))
            for m in PROTOCOL.finditer(line):
                need("docs/protocol.md", "s" + m.group(1).replace(".", "-"), where, m.group(0))
            for m in DESIGN.finditer(line):
                need("docs/architecture.md", "design-" + m.group(1).replace(".", "-"), where, m.group(0))
            for m in DECISION.finditer(line):
                need("docs/protocol.md", m.group(1).lower() + "-" + m.group(2), where, m.group(0))
            if not rel.endswith(".md") and OUTSIDE_IN_CODE.search(line):
                broken.append(f"{where}: cites notes kept outside the repository: cite docs/ or write the reason")
            if ISSUE_NUMBER.search(line):
                broken.append(f"{where}: names an issue number: write what it stood for")
            if OUTSIDE.search(line):
                broken.append(f"{where}: points outside the repository (the ../shared folder): cite docs/ instead")
    for b in broken:
        print(b)
    print(f"check-doc-refs: {checked} references checked, {len(broken)} broken", file=sys.stderr)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
