"""screenpilot as an MCP server (``agent mcp``), on the official MCP Python SDK.

Follow a tool call through it by file:

* `agent.mcp.tools`: the tools as data (name, description, argument and result
  models, the host method that performs it, the platforms that offer it);
* `agent.mcp.tool_models`: those pydantic models, from which the JSON schemas come;
* `agent.mcp.host`: the screen, model and recorded session the calls act on;
* `agent.mcp.view`: what each client's x, y refer to (its latest screenshot);
* `agent.mcp.task_tool`: ``run_task`` (a task file on the server's screen);
* `agent.mcp.server`: registration on the SDK's `MCPServer`, the worker thread,
  confirmation through MCP elicitation, errors as one-line error results;
* `agent.mcp.transport`: stdio and streamable HTTP, with the bearer token that
  any bind but 127.0.0.1, ::1 and localhost requires;
* `agent.mcp.host_check`: Host/Origin checks on every HTTP request (DNS rebinding).

The SDK (the ``mcp`` extra) is imported only when the server is built.
"""
