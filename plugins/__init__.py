"""First-party PaperZoo plugins, one subpackage per paper (installed as ``zoo_plugins``).

Kept empty on purpose: the catalog (registry.yaml beside this file) is located through this
package without running any plugin code.
"""
