/**
 * How often the server's and the agent's `nodejs_eventloop_lag_*` metrics sample the event loop.
 * prom-client's default (10 ms) is a timer that wakes the process 100 times a second per registry: with
 * the server and its local agent in one process, that was about 60 ms of CPU every 30 s of idle, more
 * than all of an idle agent's own work. Every 100 ms still sees each stall of 100 ms or more.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;
