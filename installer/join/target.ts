/** `[user@]host[:port]` as typed on the `corral join` command line (IPv6 in brackets: `pi@[fe80::1]:2222`). */

export interface JoinTarget {
  /** As typed; used as the row label in progress output and the summary. */
  label: string;
  user: string;
  host: string;
  port: number;
}

export function parseTarget(text: string, defaultUser = 'root'): JoinTarget {
  const at = text.lastIndexOf('@');
  const user = at >= 0 ? text.slice(0, at) : defaultUser;
  const rest = at >= 0 ? text.slice(at + 1) : text;
  let host: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (bracket) {
    host = bracket[1]!;
    portText = bracket[2];
  } else if ((rest.match(/:/g) ?? []).length > 1) {
    host = rest; // a bare IPv6 address, port 22
  } else {
    const [h, p] = rest.split(':');
    host = h ?? '';
    portText = p;
  }
  if (user === '' || /[\s'"]/.test(user)) throw new Error(`invalid user in "${text}"`);
  if (host === '' || /[\s/'"]/.test(host)) throw new Error(`invalid host in "${text}" (use [user@]host[:port])`);
  const port = portText === undefined ? 22 : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port in "${text}"`);
  return { label: text, user, host, port };
}
