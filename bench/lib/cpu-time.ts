// CPU time a process has used so far, all its threads (the libuv pool does
// LevelDB's work), in nanoseconds: the first field of
// /proc/<pid>/task/<tid>/schedstat, summed. CPU per message is far steadier
// than wall time on a shared machine.
import { readdirSync, readFileSync } from 'node:fs';

export function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread exited between listing and reading
    }
  }
  return total;
}
