"""The PostgreSQL backend: the same store verbs over psycopg 3 and its connection pool."""
