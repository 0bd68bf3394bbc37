// Is a process still there? Locks, cache parts and temp files carry their owner's pid, so what a
// killed run left behind can be told apart from what a live run is writing.
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
