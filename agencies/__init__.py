"""Agencies: the tenant model, path routing, memberships and roles, onboarding, access control."""
