"""Sub-commands of the ``microgradnn`` CLI, one module per group (see ``microgradnn.cli``)."""
