/**
 * An installed service's environment is its unit's, not the login shell's the benchmarks run from. A shell
 * that points Node.js or OpenSSL at a CA bundle changes what a Node.js process holds: NODE_EXTRA_CA_CERTS
 * makes every process parse the system's ~140 certificates at start, and Node.js's own ~140 besides
 * (~0.6 MiB resident in the agent, docs/performance.md "Agent memory"). Benchmarks that report a figure
 * "as installed" drop these variables before they start anything (BENCH_KEEP_CA_ENV=1 keeps them, to
 * compare).
 */
export const SHELL_CA_VARIABLES = ['NODE_EXTRA_CA_CERTS', 'SSL_CERT_FILE', 'SSL_CERT_DIR'] as const;

export function dropShellCaVariables(): void {
  if (process.env['BENCH_KEEP_CA_ENV']) return;
  for (const name of SHELL_CA_VARIABLES) delete process.env[name];
}
