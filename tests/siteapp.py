"""Deploying the demo app again with other variables: shared by the site.yml test modules (the
deployment itself is the `app` fixture of tests/integration/conftest.py)."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from playbook import REPO, PlaybookRun, run_playbook

DEFAULTS = yaml.safe_load((Path(REPO) / "roles" / "slipway_app" / "defaults" / "main.yml").read_text())
COMPONENTS = DEFAULTS["slipway_app_components"]


def deploy(app: dict, *options: str, **overrides) -> PlaybookRun:
    return run_playbook("site.yml", {**app["vars"], **overrides}, *options)


def components_with(**changes) -> list[dict]:
    """The default components, with `changes[name]` merged into the named one; None drops it."""
    result = []
    for component in copy.deepcopy(COMPONENTS):
        change = changes.get(component["name"], {})
        if change is None:
            continue
        result.append({**component, **change})
    return result
