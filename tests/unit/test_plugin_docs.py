"""Every module and plugin of ours documents itself as ansible-doc reads it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_DOC = Path(sys.executable).parent / "ansible-doc"
MODULES = sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py"))
LOOKUPS = sorted(path.stem for path in (ROOT / "plugins" / "lookup").glob("*.py"))


def docs(plugin_type: str, names: list[str]) -> dict:
    shown = subprocess.run([str(ANSIBLE_DOC), "-t", plugin_type, "--json", *names], cwd=ROOT,
                           capture_output=True, text=True)
    assert shown.returncode == 0 and not shown.stderr.strip(), shown.stderr
    return json.loads(shown.stdout)


def test_each_module_documents_its_options_examples_results_and_attributes() -> None:
    found = docs("module", MODULES)
    assert sorted(found) == MODULES
    for name, doc in found.items():
        assert doc["doc"]["short_description"] and doc["examples"].strip() and doc["return"], name
        assert {"check_mode", "diff_mode", "idempotent"} <= set(doc["doc"]["attributes"]), name


def test_each_lookup_documents_itself() -> None:
    found = docs("lookup", LOOKUPS)
    assert sorted(found) == LOOKUPS
    for name, doc in found.items():
        assert doc["doc"]["short_description"] and doc["examples"].strip() and doc["return"], name
