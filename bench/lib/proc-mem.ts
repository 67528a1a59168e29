// Server memory as the kernel sees it: VmRSS from /proc/<pid>/status.
import { readFile } from 'node:fs/promises';

export async function rssBytes(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text);
  if (m === null || m[1] === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}
