"""Embedded simulator gateway: the MXAccess Gateway contract over a simulated Galaxy."""
