/** A one-line progress indicator on stderr, only when stderr is a terminal. */
export interface Progress {
  update(text: string): void;
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function createProgress(enabled: boolean): Progress {
  if (!enabled) return { update: () => undefined, stop: () => undefined };
  let text = '';
  let i = 0;
  const draw = (): void => {
    process.stderr.write(`\r\x1b[2K${FRAMES[i++ % FRAMES.length]} ${text}`);
  };
  const timer = setInterval(draw, 80);
  return {
    update(t) {
      text = t;
      draw();
    },
    stop() {
      clearInterval(timer);
      process.stderr.write('\r\x1b[2K');
    },
  };
}
