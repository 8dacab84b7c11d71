import { pino, type Level } from 'pino';

/**
 * The servers' structured log: one event per line on stderr. `json` lines come from pino (one object a line, with
 * `level`, `time`, `component`, `event` and the event's fields); `pretty` is for a terminal. Callers pass only
 * identifiers, counts, codes and privacy parameters — never row-level values or raw spec text.
 */
export type LogFn = (event: string, fields?: Record<string, unknown>) => void;

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['pretty', 'json', 'silent'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface LoggerOptions {
  /** @default 'pretty' */
  format?: LogFormat;
  /** Events below this level are dropped. @default 'info' */
  level?: LogLevel;
  /** Where finished lines go (without the newline). @default a line on stderr */
  write?: (line: string) => void;
}

/** Events that mean something failed inside the server (someone should look). */
const ERROR_EVENTS = new Set(['internal-error', 'job-internal-error', 'job-store-error', 'ledger-head-write-failed', 'listener-error', 'metrics-server-error']);
/** Events that are refusals or degraded operation (expected under attack or misconfiguration). */
const WARN_PATTERN = /(refused|failed|issue|error|unavailable|rejected)$/;
/** Chatty events useful only when debugging. */
const DEBUG_EVENTS = new Set(['task-started', 'ledger-head-advanced', 'stray-reply', 'reconnecting']);

/** The level an event is logged at: one table, so `--log-level warn` means the same for every server. */
export function levelOf(event: string): Exclude<LogLevel, 'silent'> {
  if (ERROR_EVENTS.has(event)) return 'error';
  if (WARN_PATTERN.test(event)) return 'warn';
  if (DEBUG_EVENTS.has(event)) return 'debug';
  return 'info';
}

const RANK: Record<LogLevel, number> = { debug: 20, info: 30, warn: 40, error: 50, silent: Infinity };

/**
 * Validates a `--log-level` / `FEDMESH_LOG_LEVEL` value.
 * @throws RangeError naming the option and the levels it accepts
 */
export function parseLogLevel(value: string, option = '--log-level'): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new RangeError(`${option}: unknown level ${JSON.stringify(value.slice(0, 40))} (known: ${LOG_LEVELS.join(', ')})`);
}

export function createLogger(component: string, options: LoggerOptions = {}): LogFn {
  const format = options.format ?? 'pretty';
  const level = options.level ?? 'info';
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  if (format === 'silent' || level === 'silent') return () => undefined;
  const min = RANK[level];
  if (format === 'json') {
    const logger = pino(
      {
        level,
        base: { component },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      // pino writes whole lines synchronously to any object with write(); keep the caller's sink.
      { write: (s: string) => write(s.endsWith('\n') ? s.slice(0, -1) : s) },
    );
    return (event, fields = {}) => {
      const at: Level = levelOf(event);
      // `event` first (after pino's level, time and component) so a line reads, and greps, the same as before.
      if (RANK[at] < min) return;
      const line: Record<string, unknown> = { event };
      for (const [k, v] of Object.entries(fields)) if (k !== 'event') line[k] = v;
      logger[at](line);
    };
  }
  return (event, fields = {}) => {
    const at = levelOf(event);
    if (RANK[at] < min) return;
    const rest = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    write(`${new Date().toISOString()} ${at.toUpperCase().padEnd(5)} ${component} ${event}${rest ? ' ' + rest : ''}`);
  };
}
