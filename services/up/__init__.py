"""`levee up`: everything on one machine, embedded NATS and PostgreSQL included, each service a child process."""

from services.up.launcher import launch

__all__ = ["launch"]
