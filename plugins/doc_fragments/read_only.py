# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes of the modules that only read (what a cluster, a registry or a folder holds)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
    description: Reads only, so it runs in check mode too, with the same result.
  diff_mode:
    support: none
  idempotent:
    support: full
    description: Never changes anything.
"""
