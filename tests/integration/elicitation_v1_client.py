"""Runs in .venv-langchain, which has the MCP Python SDK 1.x: calls a tool that needs
approval, answering the elicitation with ANSWER (accept | decline | none = no callback).
Prints one JSON object for the test to check.

usage: elicitation_v1_client.py AWSGATE POLICY ANSWER BUCKET KEY
"""

import asyncio
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

binary, policy, answer, bucket, key = sys.argv[1:6]
asked = []


async def callback(context, params):
    asked.append(params.message)
    if answer == "accept":
        return types.ElicitResult(action="accept", content={"approve": True})
    return types.ElicitResult(action="decline")


async def main():
    params = StdioServerParameters(command=binary, args=["serve", "--policy", policy], env=dict(os.environ))
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write, elicitation_callback=None if answer == "none" else callback) as session:
            await session.initialize()
            result = await session.call_tool("s3_put_object", {"bucket": bucket, "key": key, "body": "approved body"})
    print(json.dumps({"is_error": bool(result.isError), "structured": result.structuredContent, "asked": asked}))


asyncio.run(main())
