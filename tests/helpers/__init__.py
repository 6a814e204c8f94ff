"""Builders, fakes and seeded fixtures shared by the test suite."""
