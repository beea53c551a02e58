#!/usr/bin/env python3
"""The documentation's promises that a site build cannot see (make test, check-docs).

mkdocs --strict (scripts/docs) fails on a link to a page that does not exist; Debian's mkdocs 1.4
does not look at anchors, and nothing looks at what the pages say. This does, for what a newcomer
copies from them:

- README.md stays a read of one sitting: at most 300 lines; the rest is in docs/.
- A fenced block right after a `<!-- file: PATH -->` line is PATH, byte for byte (the README's
  complete chat consumer is examples/chat/chat.c, not an older copy of it).
- Every plugin build line (`cc -shared ...`) has -Wall -Werror, so a misspelt API call is a
  compile error rather than a plugin the worker refuses at load.
- Every `page.md#anchor` and `#anchor` link names a heading of its page (GitHub's and mkdocs'
  slugs agree for our headings: lowercase, punctuation dropped, spaces to hyphens).

Run from the repository's root; prints each problem with its file and line and exits 1.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md")) + [ROOT / "proto" / "README.md"]
README_MAX_LINES = 300
problems = []


def where(page, lineno):
    return f"{page.relative_to(ROOT)}:{lineno}"


def slug(heading):
    s = re.sub(r"[^\w\s-]", "", heading).strip().lower()
    return re.sub(r"[-\s]+", "-", s)


def headings(page):
    out, fenced = set(), False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            out.add(slug(line.lstrip("#").strip()))
    return out


def check_file_blocks(page, lines):
    for i, line in enumerate(lines):
        m = re.fullmatch(r"<!-- file: (\S+) -->", line.strip())
        if not m:
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            problems.append(f"{where(page, i + 1)}: <!-- file: {m[1]} --> is not followed by a fenced block")
            continue
        end = next((j for j in range(i + 2, len(lines)) if lines[j].startswith("```")), None)
        block = "".join(l + "\n" for l in lines[i + 2:end])
        target = ROOT / m[1]
        if not target.is_file():
            problems.append(f"{where(page, i + 1)}: {m[1]} does not exist")
        elif block != target.read_text():
            problems.append(f"{where(page, i + 1)}: the block is not {m[1]} byte for byte "
                            f"(copy the file into it: the page promises it is complete)")


def check_build_lines(page, lines):
    for i, line in enumerate(lines):
        if re.search(r"\bcc -shared\b", line) and not ("-Wall" in line and "-Werror" in line):
            problems.append(f"{where(page, i + 1)}: a plugin build line without -Wall -Werror: {line.strip()}")


def check_anchors(page, text):
    for lineno, line in enumerate(text.splitlines(), 1):
        for target, anchor in re.findall(r"\]\(([^)\s#]*)#([^)\s]+)\)", line):
            if target.startswith("http"):
                continue
            dest = (page.parent / target).resolve() if target else page
            if not dest.is_file():
                continue   # mkdocs --strict reports missing pages
            if anchor not in headings(dest):
                problems.append(f"{where(page, lineno)}: no heading '#{anchor}' in {dest.relative_to(ROOT)}")


def main():
    readme = (ROOT / "README.md").read_text().splitlines()
    if len(readme) > README_MAX_LINES:
        problems.append(f"README.md: {len(readme)} lines, more than {README_MAX_LINES}: move detail to docs/")
    if not any(re.fullmatch(r"<!-- file: examples/chat/chat\.c -->", l.strip()) for l in readme):
        problems.append("README.md: the complete chat consumer is no longer marked <!-- file: examples/chat/chat.c -->")
    for page in PAGES:
        text = page.read_text()
        lines = text.splitlines()
        check_file_blocks(page, lines)
        check_build_lines(page, lines)
        check_anchors(page, text)
    for p in problems:
        print(f"check-docs: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"check-docs: README {len(readme)} lines, file blocks identical, build lines strict, anchors resolve")
    return 0


if __name__ == "__main__":
    sys.exit(main())
