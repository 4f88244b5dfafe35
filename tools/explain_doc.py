"""Refresh the real output in docs/explain.md: every ``$ paramscope explain …`` block is run again (at 80
columns, from the folder of the real model files, so paths print short) and its output replaced.

    python tools/explain_doc.py
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "explain.md"
BLOCK = re.compile(r"```\n\$ (paramscope explain [^\n]+)\n.*?```", re.S)


def main() -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    import fetch_models

    models = fetch_models.gemma_gguf().parent
    fetch_models.minilm_dir()
    env = os.environ | {"COLUMNS": "80", "PYTHONPATH": str(ROOT / "src")}

    def run(m: re.Match) -> str:
        args = shlex.split(m.group(1))[1:]
        out = subprocess.run([sys.executable, "-m", "paramscope", *args], cwd=models, env=env,
                             capture_output=True, text=True, check=True).stdout.rstrip()
        return f"```\n$ {m.group(1)}\n{out}\n```"

    DOC.write_text(BLOCK.sub(run, DOC.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main()
