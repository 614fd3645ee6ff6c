"""${{ values.name }}: a WSGI application with a health endpoint."""
