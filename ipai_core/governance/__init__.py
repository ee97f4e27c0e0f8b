"""Governance: checks that keep the platform honest (RLS coverage, Spec Kit, audit)."""
