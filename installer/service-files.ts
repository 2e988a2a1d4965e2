/**
 * How corral runs as a service, rendered as text (pure, so it is tested and uploaded as-is): a systemd
 * unit where PID 1 is systemd, otherwise a small POSIX sh supervisor — pid file, restart with back-off,
 * log file, `start|stop|restart|status` — for hosts and containers without systemd.
 */

export interface ServiceSpec {
  /** Service name: `corral` (server) or `corral-agent`. */
  name: string;
  description: string;
  /** The command, argv form; every element is shell-quoted in the supervisor script. */
  argv: readonly string[];
  /** Directory for the pid files of the supervisor and its child. */
  runDir: string;
  logFile: string;
  /** Environment variables the command starts with (names and values without spaces or quotes). */
  environment?: Readonly<Record<string, string>>;
}

/** Single-quotes a word for POSIX sh. */
export function shQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function systemdUnitPath(name: string): string {
  return `/etc/systemd/system/${name}.service`;
}

/** systemd quoting: words with spaces or quotes in double quotes, `\` and `"` escaped, `%` doubled. */
function systemdWord(s: string): string {
  const escaped = s.replace(/%/g, '%%');
  return /^[A-Za-z0-9_@+=:,./-]+$/.test(escaped) ? escaped : `"${escaped.replace(/(["\\])/g, '\\$1')}"`;
}

export function renderSystemdUnit(s: ServiceSpec): string {
  return [
    '[Unit]',
    `Description=${s.description}`,
    'Documentation=https://github.com/corral',
    'Wants=network-online.target',
    'After=network-online.target containerd.service',
    '',
    '[Service]',
    'Type=simple',
    ...Object.entries(s.environment ?? {}).map(([k, v]) => `Environment=${k}=${v}`),
    `ExecStart=${s.argv.map(systemdWord).join(' ')}`,
    'Restart=always',
    'RestartSec=2',
    // Containers live in containerd's shims and their own cgroups: stopping corral must not kill them.
    'KillMode=process',
    'Delegate=yes',
    'LimitNOFILE=1048576',
    'TimeoutStopSec=30',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export function supervisorPath(libDir: string, name: string): string {
  return `${libDir}/${name}.service.sh`;
}

/**
 * The supervisor script. `start` detaches a supervising copy of itself with setsid (so it outlives the
 * SSH session that started it) and waits for its pid file; the supervisor restarts the command when it
 * exits, backing off from 1 s to 30 s while it keeps failing fast; `stop` sends SIGTERM and escalates to
 * SIGKILL after 20 s.
 */
export function renderSupervisor(s: ServiceSpec): string {
  const pid = `${s.runDir}/${s.name}.pid`;
  const childPid = `${s.runDir}/${s.name}.child.pid`;
  return `#!/bin/sh
# ${s.description}: service script written by corral (no systemd on this host).
# Usage: $0 start|stop|restart|status
NAME=${shQuote(s.name)}
PIDFILE=${shQuote(pid)}
CHILDPID=${shQuote(childPid)}
LOG=${shQuote(s.logFile)}
LOG_MAX_BYTES=10485760

run() {
${Object.entries(s.environment ?? {}).map(([k, v]) => `  export ${k}=${shQuote(v)}\n`).join('')}  exec ${s.argv.map(shQuote).join(' ')}
}

# Running = the pid exists and is not a zombie (where PID 1 does not reap, an exited process lingers as one).
alive() {
  p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null || return 1
  ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null
}

supervise() {
  echo $$ > "$PIDFILE"
  stop=0
  child=
  trap 'stop=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' TERM INT
  delay=1
  while [ "$stop" = 0 ]; do
    if [ -f "$LOG" ] && [ "$(wc -c < "$LOG")" -gt "$LOG_MAX_BYTES" ]; then mv -f "$LOG" "$LOG.1"; fi
    started=$(date +%s)
    run >> "$LOG" 2>&1 < /dev/null &
    child=$!
    echo "$child" > "$CHILDPID"
    echo "$(date -u +%FT%TZ) $NAME: started pid $child" >> "$LOG"
    code=0
    wait "$child" || code=$?
    # A trapped signal interrupts wait; wait again for the child to really end.
    while kill -0 "$child" 2>/dev/null; do wait "$child" || code=$?; done
    echo "$(date -u +%FT%TZ) $NAME: pid $child exited with $code" >> "$LOG"
    child=
    [ "$stop" = 0 ] || break
    if [ $(( $(date +%s) - started )) -ge 60 ]; then delay=1; fi
    sleep "$delay" & wait $! || true
    delay=$(( delay * 2 )); [ "$delay" -le 30 ] || delay=30
  done
  rm -f "$PIDFILE" "$CHILDPID"
}

case "$1" in
  start)
    if alive "$PIDFILE"; then echo "$NAME is running (pid $(cat "$PIDFILE"))"; exit 0; fi
    mkdir -p "$(dirname "$PIDFILE")" "$(dirname "$LOG")"
    rm -f "$PIDFILE"
    setsid "$0" supervise < /dev/null >> "$LOG" 2>&1 &
    i=0
    while [ $i -lt 50 ]; do alive "$PIDFILE" && { echo "$NAME started (pid $(cat "$PIDFILE"))"; exit 0; }; sleep 0.1; i=$((i + 1)); done
    echo "$NAME did not start; see $LOG" >&2
    exit 1 ;;
  supervise)
    supervise ;;
  stop)
    if ! alive "$PIDFILE"; then
      alive "$CHILDPID" && kill -KILL "$(cat "$CHILDPID")" 2>/dev/null
      rm -f "$PIDFILE" "$CHILDPID"; echo "$NAME is not running"; exit 0
    fi
    kill -TERM "$(cat "$PIDFILE")"
    i=0
    while alive "$PIDFILE" && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
    if alive "$PIDFILE"; then
      alive "$CHILDPID" && kill -KILL "$(cat "$CHILDPID")" 2>/dev/null
      kill -KILL "$(cat "$PIDFILE")" 2>/dev/null
    fi
    rm -f "$PIDFILE" "$CHILDPID"
    echo "$NAME stopped" ;;
  restart)
    "$0" stop && "$0" start ;;
  status)
    if alive "$PIDFILE"; then echo "$NAME is running (pid $(cat "$PIDFILE"), child $(cat "$CHILDPID" 2>/dev/null))"; exit 0; fi
    echo "$NAME is stopped"; exit 3 ;;
  *)
    echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
`;
}

/**
 * Shell commands that install a service and (re)start it, choosing systemd when the host runs it.
 * The files must already be in place: the unit under /etc/systemd/system or the supervisor script.
 * Re-running restarts the service, which is how an upgrade in place takes effect.
 */
export function serviceStartCommand(name: string, useSystemd: boolean, libDir: string): string {
  if (useSystemd) return `systemctl daemon-reload && systemctl enable ${shQuote(name)} >/dev/null 2>&1; systemctl restart ${shQuote(name)}`;
  const script = shQuote(supervisorPath(libDir, name));
  return `chmod 755 ${script} && ${script} stop >/dev/null && ${script} start`;
}

/** Shell command that stops a service of either kind if it runs (nothing to stop is fine). */
export function serviceStopCommand(name: string, useSystemd: boolean, libDir: string): string {
  if (useSystemd) return `systemctl stop ${shQuote(name)} 2>/dev/null || true`;
  const script = shQuote(supervisorPath(libDir, name));
  return `if [ -f ${script} ]; then sh ${script} stop >/dev/null; fi`;
}

/** Shell commands that stop and remove a service of either kind (missing pieces are fine). */
export function serviceRemoveCommand(name: string, libDir: string): string {
  const unit = shQuote(systemdUnitPath(name));
  const script = shQuote(supervisorPath(libDir, name));
  return [
    `if [ -f ${unit} ]; then systemctl disable --now ${shQuote(name)} >/dev/null 2>&1; rm -f ${unit}; systemctl daemon-reload 2>/dev/null; fi`,
    `if [ -f ${script} ]; then sh ${script} stop >/dev/null; rm -f ${script}; fi`,
  ].join('; ');
}
