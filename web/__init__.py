"""What people see: pages and static assets served by the same FastAPI app."""
