"""Sessions: the MXAccess commands, tag-level access, subscriptions and recovery of a lost session."""
