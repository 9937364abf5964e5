"""``tscrm --help`` stays fast: command groups load on demand, typer's unused rich extras are deferred."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
sys.argv = ["tscrm", "--help"]
from tscrm.cli.main import run
try:
    run()
except SystemExit:
    pass
loaded = [m for m in ("markdown_it", "pygments", "sqlalchemy", "textual", "tscrm.cli.clients") if m in sys.modules]
print("LOADED", loaded)
"""


def test_help_loads_no_heavy_module():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout
    assert "clients" in out and "import" in out  # the lazy groups are listed
    assert out.strip().splitlines()[-1] == "LOADED []"


def test_deferred_modules_still_work_when_used():
    code = (
        "from tscrm.cli.fast_help import defer_rich_extras_for_help as d; d(['--help'])\n"
        "from rich.markdown import Markdown\nfrom rich.console import Console\n"
        "c = Console(width=40, record=True); c.print(Markdown('**bold** text')); print(repr(c.export_text()))\n"
        "import rich.traceback\n"
        "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    tb = rich.traceback.Traceback.from_exception(type(e), e, e.__traceback__)\n"
        "print(type(tb).__module__, isinstance(tb, rich.traceback.Traceback))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "bold text" in out and "rich.traceback True" in out


def test_a_lazy_group_runs_its_commands(tmp_path):
    from typer.testing import CliRunner

    from tscrm.cli.main import app

    result = CliRunner().invoke(app, ["notes", "--help"])
    assert result.exit_code == 0 and "add" in result.stdout
