/**
 * How the demo prints: numbered sections, sub-headers, indented blocks, pretty JSON, and a record of
 * every expected step (ok / FAILED) that decides the exit status.
 */

export interface Out {
  line(text?: string): void;
}

export const stdoutOut: Out = { line: (text = '') => process.stdout.write(`${text}\n`) };

const WIDTH = 78;

export class Printer {
  private section = 0;

  constructor(readonly out: Out = stdoutOut) {}

  header(title: string): void {
    this.section++;
    const head = `== ${this.section}. ${title} `;
    this.out.line();
    this.out.line(head + '='.repeat(Math.max(4, WIDTH - head.length)));
  }

  sub(title: string): void {
    this.out.line();
    this.out.line(`-- ${title}`);
  }

  line(text = ''): void {
    this.out.line(text);
  }

  /** Each line of `text` indented; empty text prints `(empty)` so the reader knows nothing came back. */
  block(text: string, indent = '   ', empty = '(nothing)'): void {
    const lines = text.replace(/\s+$/, '').split('\n');
    if (lines.length === 1 && lines[0] === '') {
      this.out.line(`${indent}${empty}`);
      return;
    }
    for (const l of lines) this.out.line(`${indent}${l}`.trimEnd());
  }

  json(v: unknown, indent = '   '): void {
    this.block(JSON.stringify(v, null, 2), indent);
  }

  /** A command as one would type it (arguments with spaces or quotes are single-quoted). */
  command(argv: readonly string[], prefix = '$ '): void {
    this.out.line(`${prefix}${argv.map(shellQuote).join(' ')}`);
  }
}

export function shellQuote(a: string): string {
  if (a === '') return "''";
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export interface StepResult {
  name: string;
  ok: boolean;
  detail?: string;
}

/** Every step the demo expects to work (or to fail in a given way), printed as it is decided. */
export class Steps {
  readonly all: StepResult[] = [];

  constructor(private readonly p: Printer) {}

  record(name: string, ok: boolean, detail?: string): boolean {
    this.all.push(detail === undefined ? { name, ok } : { name, ok, detail });
    this.p.line(`   ${ok ? 'ok    ' : 'FAILED'} ${name}${detail ? `: ${detail}` : ''}`);
    return ok;
  }

  get failed(): StepResult[] {
    return this.all.filter((s) => !s.ok);
  }
}
