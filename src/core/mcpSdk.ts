/**
 * The parts of the MCP SDK we use, in one module that is loaded on first use only (the keeper's probe, a 401's
 * challenge). In the shipped bundles it is a file of its own beside them (`dist/mcp-sdk.js`, esbuild.mjs), so
 * that starting the CLI or activating the extension never parses the SDK and its schema libraries (~320 KB).
 */
export { Client } from '@modelcontextprotocol/sdk/client/index.js';
export { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
export { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
export { extractWWWAuthenticateParams } from '@modelcontextprotocol/sdk/client/auth.js';
