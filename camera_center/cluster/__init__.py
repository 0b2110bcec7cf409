"""Several servers, one center: camera ownership by leases in PostgreSQL, the plan of
who reads what, and the servers' registry."""
