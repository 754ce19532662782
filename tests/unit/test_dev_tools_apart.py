"""Issue 20 item 6: the development tools stay beside the product, not inside it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_aiosmtpd_is_not_a_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not [d for d in project["dependencies"] if d.startswith("aiosmtpd")]
    assert any(d.startswith("aiosmtpd") for d in project["optional-dependencies"]["dev"])


def test_production_imports_no_development_tool() -> None:
    """The portal, the daemon, the CLI's entry point and the workflows load without the
    dev package or aiosmtpd."""
    code = (
        "import sys\n"
        "import apexdir.portal, apexdir.portal.server, apexdir.daemon.app, apexdir.cli.main\n"
        "import apexdir.workflows.auth, apexdir.workflows.precreation, apexdir.backup\n"
        "from apexdir.portal import create_app\n"
        "bad = sorted(m for m in sys.modules if m == 'aiosmtpd' or m.startswith(('aiosmtpd.',"
        " 'apexdir.dev')))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
