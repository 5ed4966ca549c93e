"""(being built) Routes of the webhooks capability."""
