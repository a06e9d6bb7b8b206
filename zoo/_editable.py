"""Build hook for editable installs only: makes `import zoo_plugins` load the source folder plugins/.

A wheel renames plugins/ to zoo_plugins/ (hatchling's `sources`), but hatchling's editable mode
cannot rename a folder, so for editable builds this hook adds an import redirect from the editables
library (a meta-path finder listed in a .pth file) that maps `zoo_plugins` to plugins/. `zoo` itself
is found through the project root, which `dev-mode-dirs` puts on sys.path. Not part of the
installed package: the wheel excludes this file.
"""

from __future__ import annotations

import os
import tempfile

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class EditablePluginsHook(BuildHookInterface):
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict) -> None:
        if version != "editable":
            return
        from editables import EditableProject

        project = EditableProject(self.metadata.core.name, self.root)
        project.map("zoo_plugins", os.path.join(self.root, "plugins"))
        folder = tempfile.mkdtemp(prefix="paperzoo-editable-")
        for name, content in project.files():
            path = os.path.join(folder, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(content)
            build_data["force_include_editable"][path] = name
        build_data["dependencies"] += project.dependencies()
