# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The path of a file in this project's sandbox folder, wherever the project is checked out."""

from __future__ import annotations

DOCUMENTATION = r"""
name: sandbox_path
short_description: The absolute path of a file in the project's sandbox/ folder
description:
  - Returns the absolute path of each term under the C(sandbox/) folder of the project this
    plugin belongs to.
  - The sandbox inventory's variables name the sandbox's scripts through it rather than through
    C(inventory_dir). Where AWX runs a job, the inventory is a file AWX wrote outside the project
    (C(inventory_dir) is then the job's private data dir), while this plugin is always the
    project's own.
options:
  _terms:
    description: Paths relative to the sandbox folder.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: The tag of the sandbox's Python base image
  ansible.builtin.debug:
    msg: "{{ lookup('ansible.builtin.pipe', lookup('sandbox_path', 'make-image.sh') ~ ' python-base --print-tag') }}"
"""

RETURN = r"""
_raw:
  description: The absolute path of each term, which exists.
  type: list
  elements: str
"""

from pathlib import Path

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

# plugins/lookup/ -> the project's root.
SANDBOX = Path(__file__).resolve().parents[2] / "sandbox"


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        paths = []
        for term in terms:
            path = SANDBOX / term
            if not path.exists():
                raise AnsibleLookupError(f"the project's sandbox folder has no {term} ({path})")
            paths.append(str(path))
        return paths
