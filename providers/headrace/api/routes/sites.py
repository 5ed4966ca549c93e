"""(being built) Routes of the sites capability."""
