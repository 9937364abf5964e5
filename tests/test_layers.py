"""The layers import only downwards: core knows no front end, no telephony and no network client;
the front ends share their formatting through tscrm.present, not through each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tscrm"

# package -> modules it must never import (at the top or inside a function)
FORBIDDEN = {
    "core": ("tscrm.tui", "tscrm.cli", "tscrm.telephony", "tscrm.mail", "tscrm.calendar", "tscrm.server", "tscrm.present",
             "textual", "typer", "rich", "httpx", "imapclient", "caldav", "icalendar", "pyVoIP", "fastapi", "uvicorn"),
    "tui": ("tscrm.cli", "tscrm.server", "typer"),
    "cli": ("tscrm.tui.screens", "tscrm.tui.widgets"),
    "present": ("tscrm.tui", "tscrm.cli", "textual", "typer", "rich"),
    "telephony": ("tscrm.tui", "tscrm.cli", "textual", "typer"),
    "mail": ("tscrm.tui", "tscrm.cli", "textual", "typer"),
    "calendar": ("tscrm.tui", "tscrm.cli", "textual", "typer"),
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def offences(package: str) -> list[str]:
    bad = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        for line, module in imported_modules(path):
            for banned in FORBIDDEN[package]:
                if module == banned or module.startswith(banned + "."):
                    bad.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {module}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_its_layer_may(package):
    assert offences(package) == []


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from tscrm.cli.common import show_time\n    import textual.app\n")
    assert imported_modules(module) == [(2, "tscrm.cli.common"), (3, "textual.app")]
