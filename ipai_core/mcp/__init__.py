"""The MCP server for agents: tools over the lakehouse (`tools`), the low-level SDK server that
runs every call through governance (`server`), and its two transports — stdio for
`ipai mcp serve` (`stdio`) and streamable HTTP at `/mcp` in the workspace (`http_app`)."""
