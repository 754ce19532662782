"""The cn=config export: loads with slapadd -n0 and a slapd runs from it with every overlay."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from apexdir.directory.cnconfig import export
from apexdir.directory.pwcheck import build

BASE_DN = "dc=apex,dc=dgfip,dc=finances,dc=gouv,dc=fr"


def test_cn_config_export_runs_a_slapd(tmp_path: Path) -> None:
    """The exported LDIF is a working configuration: same databases, overlays and ACLs."""
    data, run, modules, conf = (tmp_path / n for n in ("data", "run", "modules", "slapd.d"))
    for folder in (data / "main", data / "accesslog", run, conf):
        folder.mkdir(parents=True)
    build(modules)
    text = export(BASE_DN, data_dir=data, run_dir=run, module_dir=modules)
    assert "\nolcRootPW:" not in text
    subprocess.run(["slapadd", "-n0", "-F", str(conf)], input=text.encode(), check=True,
                   capture_output=True)  # fmt: skip
    uri = "ldapi://" + str(run / "ldapi").replace("/", "%2F")
    proc = subprocess.Popen(["slapd", "-d", "0", "-F", str(conf), "-h", uri],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        out = ""
        for _ in range(250):
            found = subprocess.run(
                ["ldapsearch", "-Y", "EXTERNAL", "-H", uri, "-LLL", "-b", "cn=config",
                 "(objectClass=olcOverlayConfig)", "olcOverlay"],
                capture_output=True, text=True,
            )  # fmt: skip
            if found.returncode == 0:
                out = found.stdout
                break
            time.sleep(0.02)
        overlays = {
            line.split("}")[-1] for line in out.splitlines() if line.startswith("olcOverlay:")
        }
        for name in (
            "ppolicy",
            "memberof",
            "refint",
            "unique",
            "lastbind",
            "accesslog",
            "syncprov",
        ):
            assert name in overlays, out
    finally:
        proc.terminate()
        proc.wait()
