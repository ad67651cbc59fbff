"""MCP servers for the tests: one built with the official SDK, one written by hand."""
