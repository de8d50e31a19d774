"""Tests of the Galaxy Repository client against the simulator."""
