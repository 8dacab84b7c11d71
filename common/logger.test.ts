import { describe, expect, it } from 'vitest';
import { createLogger, levelOf, parseLogLevel } from './logger.js';

function capture(options: Parameters<typeof createLogger>[1]): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger('coordinator', { ...options, write: (l) => lines.push(l) }) };
}

describe('structured logger', () => {
  it('json: one pino object a line, event first after level/time/component, fields kept', () => {
    const { lines, log } = capture({ format: 'json' });
    log('job-admitted', { jobId: 'j1', researcher: 'alice', kind: 'aggregate', privacyMode: 'central-dp', epsilon: 0.5 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    const o = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(o).slice(0, 4)).toEqual(['level', 'time', 'component', 'event']);
    expect(o).toMatchObject({ level: 'info', component: 'coordinator', event: 'job-admitted', jobId: 'j1', researcher: 'alice', kind: 'aggregate', privacyMode: 'central-dp', epsilon: 0.5 });
    expect(Number.isNaN(Date.parse(String(o.time)))).toBe(false);
  });

  it('a field named event cannot overwrite the event', () => {
    const { lines, log } = capture({ format: 'json' });
    log('task-done', { event: 'forged' });
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: 'task-done' });
  });

  it('levels: failures are error, refusals warn, chatter debug; --log-level drops what is below it', () => {
    expect(levelOf('internal-error')).toBe('error');
    expect(levelOf('job-rejected')).toBe('warn');
    expect(levelOf('tls-handshake-refused')).toBe('warn');
    expect(levelOf('task-started')).toBe('debug');
    expect(levelOf('job-succeeded')).toBe('info');
    const warn = capture({ format: 'json', level: 'warn' });
    warn.log('job-succeeded', {});
    warn.log('job-rejected', {});
    warn.log('internal-error', {});
    expect(warn.lines.map((l) => (JSON.parse(l) as { event: string }).event)).toEqual(['job-rejected', 'internal-error']);
    const pretty = capture({ format: 'pretty', level: 'info' });
    pretty.log('task-started', { jobId: 'x' });
    pretty.log('task-done', { jobId: 'x' });
    expect(pretty.lines).toHaveLength(1);
    expect(pretty.lines[0]).toMatch(/ INFO {2}coordinator task-done jobId=x$/);
    const debug = capture({ format: 'pretty', level: 'debug' });
    debug.log('task-started', {});
    expect(debug.lines).toHaveLength(1);
  });

  it('silent format or level logs nothing', () => {
    for (const o of [{ format: 'silent' as const }, { format: 'json' as const, level: 'silent' as const }]) {
      const { lines, log } = capture(o);
      log('internal-error', {});
      expect(lines).toEqual([]);
    }
  });

  it('parseLogLevel names the option and the levels it accepts', () => {
    expect(parseLogLevel('warn')).toBe('warn');
    expect(() => parseLogLevel('loud')).toThrow('--log-level: unknown level "loud" (known: debug, info, warn, error, silent)');
    expect(() => parseLogLevel('x', 'FEDMESH_LOG_LEVEL')).toThrow(/^FEDMESH_LOG_LEVEL/);
  });
});
