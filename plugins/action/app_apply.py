# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""app_apply waits for the rollouts it applied: the same action plugin as rollout_wait's prints
its progress lines."""

from __future__ import annotations

from ansible.plugins.loader import action_loader

ActionModule = action_loader.get("rollout_wait", class_only=True)
