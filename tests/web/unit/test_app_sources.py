"""The web app's sources keep the promises the gateway's CSP and the i18n rely on: no inline script
or style in index.html or in the components, and the same keys in every language's dictionary."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

APP = Path(__file__).resolve().parents[3] / "services" / "web" / "app"


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if "style" in found or any(name.startswith("on") for name in found):
            self.inline.append(f"<{tag}> with inline style or handler")
        if tag == "style":
            self.inline.append("<style>")
        if tag == "script":
            self.scripts.append(found)
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append("inline <script> body")


def test_index_html_has_no_inline_script_or_style() -> None:
    page = _Collector()
    page.feed((APP / "index.html").read_text())
    assert page.inline == []
    assert [s.get("src") for s in page.scripts] == ["/src/main.tsx"]
    assert page.scripts[0].get("type") == "module"


def test_components_set_no_inline_styles_or_html() -> None:
    offenders = []
    for source in (APP / "src").rglob("*.tsx"):
        text = source.read_text()
        for pattern in (r"\bstyle=\{", r"dangerouslySetInnerHTML", r"\binnerHTML\b", r"\beval\(", r"new Function\("):
            if re.search(pattern, text):
                offenders.append(f"{source.name}: {pattern}")
    assert offenders == []


def _keys(name: str) -> list[str]:
    text = (APP / "src" / "i18n" / name).read_text()
    return re.findall(r"^  (\w+): ", text, flags=re.MULTILINE)


def test_every_language_has_the_same_strings() -> None:
    ru, en = _keys("ru.ts"), _keys("en.ts")
    assert len(ru) > 100
    assert ru == en


def test_the_lock_file_pins_what_package_json_asks_for() -> None:
    package = json.loads((APP / "package.json").read_text())
    lock = json.loads((APP / "package-lock.json").read_text())
    wanted = {**package["dependencies"], **package["devDependencies"]}
    locked = lock["packages"][""]
    assert {**locked.get("dependencies", {}), **locked.get("devDependencies", {})} == wanted
    for name in wanted:
        assert f"node_modules/{name}" in lock["packages"], name
