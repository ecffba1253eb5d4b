"""Alembic migrations, shipped inside the package so ``fleet-api migrate`` works from a wheel."""
