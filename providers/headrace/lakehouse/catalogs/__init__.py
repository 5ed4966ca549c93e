"""One class per table format behind the :class:`~.base.FormatCatalog` interface."""
