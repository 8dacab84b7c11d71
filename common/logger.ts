/** A tiny structured logger for the server processes: one line per event on stderr. */
export type LogFn = (event: string, fields?: Record<string, unknown>) => void;

export interface LoggerOptions {
  /** @default 'pretty' */
  format?: 'pretty' | 'json' | 'silent';
  write?: (line: string) => void;
}

export function createLogger(component: string, options: LoggerOptions = {}): LogFn {
  const format = options.format ?? 'pretty';
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  if (format === 'silent') return () => undefined;
  return (event, fields = {}) => {
    const at = new Date().toISOString();
    if (format === 'json') {
      write(JSON.stringify({ at, component, event, ...fields }));
      return;
    }
    const rest = Object.entries(fields)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    write(`${at} ${component} ${event}${rest ? ' ' + rest : ''}`);
  };
}
