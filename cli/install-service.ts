/**
 * The last step of `installer/install.sh`: installs and starts the server service, then prints how to
 * reach it (installer/service.ts), handing it the server's token store for the printed join token.
 *
 *   node dist/cli/install-service.js [--data-dir /var/lib/corral] [--cli PATH] [--lib-dir DIR] [-- server flags...]
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { installServerService } from '../installer/service.js';
import { paths } from '../server/config.js';
import { TokenStore } from '../server/auth/tokens.js';

const { values, positionals } = parseArgs({
  options: { 'data-dir': { type: 'string' }, cli: { type: 'string' }, 'lib-dir': { type: 'string' } },
  allowPositionals: true,
  strict: true,
});
const dataDir = values['data-dir'] ?? '/var/lib/corral';
installServerService({
  dataDir,
  cli: values.cli ?? join(dirname(fileURLToPath(import.meta.url)), 'corral.js'),
  libDir: values['lib-dir'] ?? '/usr/local/lib/corral',
  serverArgs: positionals,
  openTokens: () => new TokenStore(paths.tokens(dataDir)),
}).then((text) => process.stdout.write(text), (err: unknown) => {
  process.stderr.write(`corral install: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
