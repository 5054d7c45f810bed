"""The README's front door: its python quickstarts run, it stays short, and its links resolve."""

import configparser
import contextlib
import io
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
README = REPO / "README.md"
RESULTS = REPO / "docs" / "RESULTS.md"
MAX_README_LINES = 200
MAX_LINE_LENGTH = 100

FENCE = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#+ (.+)$", re.MULTILINE)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def python_blocks(text: str) -> list[tuple[str, str]]:
    """(heading above it, code) for every fenced python block of a markdown text."""
    blocks = []
    for match in FENCE.finditer(text):
        headings = HEADING.findall(text, 0, match.start())
        blocks.append((headings[-1] if headings else "", match.group(1)))
    return blocks


def relative_links(text: str) -> list[str]:
    """Every link target of a markdown text that is not a URL or an anchor, anchor removed."""
    targets = (target.split("#")[0] for target in LINK.findall(text))
    return [t for t in targets if t and not re.match(r"[a-z]+:", t)]


QUICKSTARTS = python_blocks(README.read_text())


def test_the_helpers_find_blocks_and_links():
    text = "# A\n```python\nx = 1\n```\n## B\n[r](docs/R.md#top) [u](https://x.org) [a](#b)\n"
    assert python_blocks(text) == [("A", "x = 1\n")]
    assert relative_links(text) == ["docs/R.md"]


@pytest.mark.parametrize("heading, code", QUICKSTARTS, ids=[h for h, _ in QUICKSTARTS])
def test_quickstart_runs(heading, code, monkeypatch):
    monkeypatch.chdir(REPO)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, f"README.md: {heading}", "exec"), {"__name__": "__readme__"})
    assert printed.getvalue().strip(), f"the quickstart {heading!r} prints nothing"


def test_every_quickstart_heading_is_there():
    headings = [heading for heading, _ in QUICKSTARTS]
    for expected in ("A graph network in your own code", "BAD on the two-step matrix game",
                     "A Hanabi agent"):
        assert expected in headings


def test_readme_is_short():
    assert len(README.read_text().splitlines()) < MAX_README_LINES


@pytest.mark.parametrize("document", [README, RESULTS], ids=lambda p: p.name)
def test_lines_are_short(document):
    long_lines = [n for n, line in enumerate(document.read_text().splitlines(), 1)
                  if len(line) > MAX_LINE_LENGTH]
    assert not long_lines, f"{document.name} lines over {MAX_LINE_LENGTH} characters: {long_lines}"


@pytest.mark.parametrize("document", [README, RESULTS], ids=lambda p: p.name)
def test_relative_links_point_at_files_in_the_repository(document):
    links = relative_links(document.read_text())
    assert links, f"{document.name} links to nothing"
    for link in links:
        target = (document.parent / link).resolve()
        assert target.is_relative_to(REPO), f"{document.name} links outside the repository: {link}"
        assert target.exists(), f"{document.name} links to a missing file: {link}"


def test_readme_installs_from_a_clone_with_the_cmake_variable():
    text = README.read_text()
    assert "CMAKE_POLICY_VERSION_MINIMUM=3.5 pip install -e '.[hanabi]'" in text
    assert "`make install`" in text and "\ninstall:" in (REPO / "Makefile").read_text()


def test_no_repository_address_is_claimed():
    # The project has no public address yet: an invented one is a command that cannot work.
    config = configparser.ConfigParser()
    config.read(REPO / "setup.cfg")
    assert "url" not in config["metadata"]
    assert "git+" not in README.read_text()
