/**
 * How long a client may take to send its request, apart from how long a response may stream.
 * Node's `requestTimeout` covers receiving the whole request (headers and body) and stops once the
 * request is complete, so a watch or a `logs -f` streams for as long as it likes while a client
 * that trickles its body (slowloris) is cut with a 408 after `bodyTimeoutMs`. Upstream's apiserver
 * bounds non-long-running requests to 60 s the same way.
 */

export const DEFAULT_REQUEST_BODY_TIMEOUT_MS = 60_000;

/** The timeouts of the API server's HTTP server; `bodyTimeoutMs` from CORRAL_REQUEST_BODY_TIMEOUT_MS in tests. */
export function requestTimeouts(bodyTimeoutMs = DEFAULT_REQUEST_BODY_TIMEOUT_MS): { [K in 'requestTimeout' | 'headersTimeout' | 'keepAliveTimeout' | 'connectionsCheckingInterval']: number } {
  return {
    requestTimeout: bodyTimeoutMs,
    headersTimeout: Math.min(60_000, bodyTimeoutMs),
    keepAliveTimeout: 65_000,
    // How often expired requests are looked for: a fraction of the timeout, at most Node's default.
    connectionsCheckingInterval: Math.max(250, Math.min(30_000, Math.floor(bodyTimeoutMs / 4))),
  };
}
