/** Asks for a secret on the terminal without echoing it; undefined when there is no terminal. */
import { createInterface } from 'node:readline';

let queue: Promise<unknown> = Promise.resolve();

export function promptSecret(question: string): Promise<string | undefined> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return Promise.resolve(undefined);
  // Parallel joins may ask at once: one question at a time.
  const next = queue.then(() => new Promise<string | undefined>((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    const out = rl as unknown as { _writeToOutput: (s: string) => void };
    process.stderr.write(question);
    out._writeToOutput = () => undefined; // no echo
    rl.question('', (answer) => {
      rl.close();
      process.stderr.write('\n');
      resolve(answer);
    });
  }));
  queue = next.catch(() => undefined);
  return next;
}
