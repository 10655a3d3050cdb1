"""What every measurement needs: the cluster, the two counted identities, the run count."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from .kube import Cluster, Identity


@dataclass
class Context:
    cluster: Cluster
    slipway: Identity      # rollout_wait and site.yml
    baseline: Identity     # kubectl and kubernetes.core
    runs: int
    workdir: Path
    _revisions: itertools.count = field(default_factory=lambda: itertools.count(1))

    def revision(self) -> str:
        """A pod template revision no earlier run of this process has used."""
        return f"r{next(self._revisions)}"
