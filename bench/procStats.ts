import { readFileSync } from 'node:fs';

/** /proc/<pid>: peak RSS (VmHWM) in MB and CPU seconds (utime + stime, fields 14 and 15 of stat); zeros once the process is gone. */
export function procStats(pid: number): { peakRssMB: number; cpuSeconds: number } {
  try {
    const hwm = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { peakRssMB: Math.round(hwm / 102.4) / 10, cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100 };
  } catch {
    return { peakRssMB: 0, cpuSeconds: 0 };
  }
}
