"""The test OAuth 2.0 authorization server (authlib server components on Starlette)."""
