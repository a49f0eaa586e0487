import { McpAuthError } from '../errors';

/** The query of a pasted address (`http://localhost:PORT/callback?code=…&state=…`); checked like a callback. */
export function pastedParams(text: string): URLSearchParams {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new McpAuthError(
      'bad-callback',
      'what was pasted is not an address (paste the whole address your browser ended on)',
    );
  }
  if (!url.searchParams.has('code') && !url.searchParams.has('error'))
    throw new McpAuthError('bad-callback', 'the pasted address carries no authorization code');
  return url.searchParams;
}
