"""The console's files keep the promises its CSP makes: no inline script or style, no HTML
built from strings, nothing loaded from anywhere but pullgate."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

STATIC = Path(__file__).resolve().parents[2] / "proxy" / "api" / "ui" / "static"
SCRIPTS = sorted(STATIC.rglob("*.js"))
# Ways to turn a string into markup or code; the console builds DOM nodes and sets text.
FORBIDDEN_JS = (
    "innerHTML",
    "outerHTML",
    "insertAdjacentHTML",
    "document.write",
    "eval(",
    "new Function",
    'setAttribute("on',
)
SVG_NAMESPACE = "http://www.w3.org/2000/svg"


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            self.scripts.append(names)
            self._in_script = True
        if tag == "style":
            self.problems.append("a <style> element")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in ("src", "href") and value and re.match(r"^(https?:)?//", value):
                self.problems.append(f"<{tag} {name}={value}> loads from elsewhere")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data.strip()[:80])


def test_the_page_has_no_inline_script_or_style() -> None:
    markup = _Markup()
    markup.feed((STATIC / "index.html").read_text())
    assert markup.scripts == [{"type": "module", "src": "app.js"}]
    assert markup.inline == []
    assert markup.problems == []


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(STATIC)))
def test_scripts_never_turn_strings_into_markup_or_code(path: Path) -> None:
    text = path.read_text()
    assert [word for word in FORBIDDEN_JS if word in text] == []
    assert ".style" not in text  # a style attribute set from script is an inline style to the CSP


@pytest.mark.parametrize("path", [*SCRIPTS, STATIC / "app.css"], ids=lambda p: str(p.relative_to(STATIC)))
def test_nothing_is_loaded_from_elsewhere(path: Path) -> None:
    urls = re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[a-z]{2,}[^\s\"'`)]*", path.read_text())
    assert [url for url in urls if url != SVG_NAMESPACE] == []
    assert "@import" not in path.read_text()


def test_every_module_imported_is_shipped() -> None:
    for script in SCRIPTS:
        for target in re.findall(r"""(?:from|import)\s*\(?\s*["'](\.{1,2}/[^"']+)["']""", script.read_text()):
            assert (script.parent / target).resolve().is_file(), f"{script.name} imports missing {target}"


def _exports(script: Path) -> set[str]:
    text = script.read_text()
    names = set(re.findall(r"^export (?:async )?(?:function|const|let|class) ([A-Za-z_$][\w$]*)", text, re.M))
    for group in re.findall(r"^export \{([^}]*)\}", text, re.M):
        names |= {part.split(" as ")[-1].strip() for part in group.split(",") if part.strip()}
    return names


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(STATIC)))
def test_every_name_imported_is_exported(path: Path) -> None:
    """What a browser would only find out at run time: `import { x }` of a name not exported."""
    for names, target in re.findall(r'import \{([^}]*)\} from "(\.{1,2}/[^"]+)"', path.read_text()):
        wanted = {name.split(" as ")[0].strip() for name in names.split(",") if name.strip()}
        missing = wanted - _exports((path.parent / target).resolve())
        assert not missing, f"{path.name} imports {sorted(missing)} that {target} does not export"
    for alias, target in re.findall(r'import \* as (\w+) from "(\.{1,2}/[^"]+)"', path.read_text()):
        used = set(re.findall(rf"\b{alias}\.(\w+)\(", path.read_text()))
        missing = used - _exports((path.parent / target).resolve())
        assert not missing, f"{path.name} calls {alias}.{sorted(missing)}, not exported by {target}"
