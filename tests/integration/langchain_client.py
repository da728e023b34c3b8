"""Runs in .venv-langchain (langchain-mcp-adapters needs mcp<2): loads awsgate's tools the
way a LangGraph agent does and invokes two, one allowed and one denied. Prints one JSON
object for the test to check.

usage: langchain_client.py stdio AWSGATE POLICY   |   langchain_client.py sse URL
"""

import asyncio
import json
import os
import sys

from langchain_mcp_adapters.client import MultiServerMCPClient


def connection():
    if sys.argv[1] == "stdio":
        return {"transport": "stdio", "command": sys.argv[2], "args": ["serve", "--policy", sys.argv[3]], "env": dict(os.environ)}
    return {"transport": "sse", "url": sys.argv[2]}


def as_text(result):
    if isinstance(result, tuple):
        result = result[0]
    if isinstance(result, list):
        return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in result)
    return str(result)


async def main():
    client = MultiServerMCPClient({"awsgate": connection()})
    tools = await client.get_tools()
    by_name = {tool.name: tool for tool in tools}
    allowed = await by_name["s3_get_object"].ainvoke({"bucket": "allowed-bucket", "key": "read.txt"})
    try:
        denied = as_text(await by_name["s3_get_object"].ainvoke({"bucket": "denied-bucket", "key": "x.txt"}))
    except Exception as error:  # the adapter raises on isError results
        denied = str(error)
    print(json.dumps({"tools": sorted(by_name), "allowed": as_text(allowed), "denied": denied}))


asyncio.run(main())
