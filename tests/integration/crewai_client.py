"""Runs in .venv-crewai (crewai-tools with its MCP extra): loads awsgate's tools through
CrewAI's `MCPServerAdapter`, the way a CrewAI agent gets them, and runs two, one allowed and
one denied. No model is needed: the tools are called directly. Prints one JSON object.

usage: crewai_client.py stdio AWSGATE POLICY   |   crewai_client.py sse URL
"""

import json
import os
import sys

from crewai_tools import MCPServerAdapter
from mcp import StdioServerParameters


def server():
    if sys.argv[1] == "stdio":
        return StdioServerParameters(command=sys.argv[2], args=["serve", "--policy", sys.argv[3]], env=dict(os.environ))
    return {"url": sys.argv[2], "transport": "sse"}


with MCPServerAdapter(server()) as tools:
    by_name = {tool.name: tool for tool in tools}
    allowed = by_name["s3_get_object"].run(bucket="allowed-bucket", key="read.txt")
    try:
        denied = str(by_name["s3_get_object"].run(bucket="denied-bucket", key="x.txt"))
    except Exception as error:  # an adapter may raise on isError results
        denied = str(error)
    print(json.dumps({"tools": sorted(by_name), "allowed": str(allowed), "denied": denied}))
