"""Runs in .venv-langchain: a LangGraph agent's tool call (langchain-mcp-adapters, mcp<2,
no elicitation, a new MCP session per call) over streamable HTTP, on a tool whose statement
needs approval. Prints one JSON object: the tool's text, or the error the adapter raised.

usage: langchain_approval_client.py URL TOKEN KEY
"""

import asyncio
import json
import sys

from langchain_mcp_adapters.client import MultiServerMCPClient


async def main():
    url, token, key = sys.argv[1:4]
    client = MultiServerMCPClient(
        {"awsgate": {"transport": "streamable_http", "url": url, "headers": {"Authorization": f"Bearer {token}"}}}
    )
    tools = {tool.name: tool for tool in await client.get_tools()}
    try:
        result = await tools["s3_put_object"].ainvoke({"bucket": "allowed-bucket", "key": key, "body": "from LangGraph"})
        print(json.dumps({"ok": True, "text": str(result)}))
    except Exception as error:  # the adapter raises on isError results
        print(json.dumps({"ok": False, "text": str(error)}))


asyncio.run(main())
