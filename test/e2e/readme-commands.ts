/**
 * Reads the commands README.md documents, for `readme-commands.test.ts` (issue 8, item 17). Pure text handling,
 * no I/O: the test reads the file and runs what this returns.
 *
 * Convention (also stated at the top of the test):
 * - a command is every line in a ```sh, ```bash, ```shell or ```console block that starts with `fedmesh `,
 *   `npx fedmesh ` or `npm ` (after an optional `$ ` prompt); a line ending in `\` continues on the next;
 * - `<!-- readme-test: skip PREFIX -- REASON -->` anywhere in the README keeps commands starting with PREFIX from
 *   running (printed with the reason: long-running, needs another setup, would recurse into the suite…).
 */
export interface ReadmeCommand {
  /** The command as written (continuations joined with one space). */
  text: string;
  /** 1-based line of the README where it starts. */
  line: number;
}

export interface SkipMarker {
  prefix: string;
  reason: string;
}

const SHELL_FENCE = /^```(sh|bash|shell|console)\s*$/;
const COMMAND = /^(fedmesh |npx fedmesh |npm )/;

export function extractCommands(readme: string): ReadmeCommand[] {
  const lines = readme.split('\n');
  const out: ReadmeCommand[] = [];
  let inShell = false;
  let inOther = false;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (!inShell && !inOther && raw.startsWith('```')) {
      if (SHELL_FENCE.test(raw)) inShell = true;
      else inOther = true;
      continue;
    }
    if ((inShell || inOther) && raw.trim() === '```') {
      inShell = inOther = false;
      continue;
    }
    if (!inShell) continue;
    let text = raw.replace(/^\$ /, '');
    if (!COMMAND.test(text)) continue;
    const start = i + 1;
    while (/\\\s*$/.test(text) && i + 1 < lines.length) {
      text = `${text.replace(/\\\s*$/, '').trimEnd()} ${lines[++i]!.trim()}`;
    }
    out.push({ text, line: start });
  }
  return out;
}

export function extractSkipMarkers(readme: string): SkipMarker[] {
  return [...readme.matchAll(/<!--\s*readme-test:\s*skip\s+(.+?)\s+--\s+([\s\S]+?)\s*-->/g)].map((m) => ({ prefix: m[1]!.trim(), reason: m[2]!.trim() }));
}

/** The ```json blocks of the README, in order (the test builds its fixture files from them). */
export function extractJsonBlocks(readme: string): string[] {
  return [...readme.matchAll(/^```json\s*\n([\s\S]*?)^```\s*$/gm)].map((m) => m[1]!);
}
