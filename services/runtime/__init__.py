"""What every stream-consuming worker shares: tracked position, unit of work, exactly-once commits."""
