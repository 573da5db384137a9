"""Built-in strategy kinds, one module each; every module here is imported by the registry.

To add a kind, add a module that calls :func:`core.selection.registry.register_strategy`
(see CONTRIBUTING.md).
"""
