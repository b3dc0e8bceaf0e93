"""Limits and credits engine. Imports no FastAPI: the search service and the CLI both drive it."""
