"""(being built) Routes of the events capability."""
