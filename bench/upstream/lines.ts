// Line-wise reading of a child's stdout: wait (bounded) for the first line
// with a given prefix, while keeping a tail of everything for error messages.
import type { ChildProcess } from 'node:child_process';

export class LineReader {
  private buf = '';
  private tailText = '';
  private readonly lines: string[] = [];
  private waiter: (() => void) | undefined;
  /** Set on 'close' (not 'exit'): stdout is fully read by then. */
  private closed = false;

  constructor(private readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (d: string) => {
      this.tailText = (this.tailText + d).slice(-8192);
      this.buf += d;
      let i = this.buf.indexOf('\n');
      while (i >= 0) {
        this.lines.push(this.buf.slice(0, i));
        this.buf = this.buf.slice(i + 1);
        i = this.buf.indexOf('\n');
      }
      this.waiter?.();
    });
    child.once('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  get tail(): string {
    return this.tailText;
  }

  /** The rest of the first line starting with `prefix`; rejects on exit or after timeoutMs. */
  async waitFor(prefix: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = this.lines.find((l) => l.startsWith(prefix));
      if (line !== undefined) return line.slice(prefix.length);
      if (this.closed) throw new Error(`child exited (${this.child.exitCode ?? this.child.signalCode}) without "${prefix}"`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no "${prefix}" line within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }
}

/** Collects a child's stderr, keeping the last `max` characters. */
export function stderrTail(child: ChildProcess, max = 16_384): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    text = (text + d).slice(-max);
  });
  return () => text;
}
