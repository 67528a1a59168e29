// Message bodies of a given encoded size: the object plus a padding string
// chosen so JSON.stringify(data) is exactly `bytes` long.
export function padded(fields: Record<string, string | number>, bytes: number): Record<string, string | number> {
  const bare = JSON.stringify({ ...fields, p: '' }).length;
  return { ...fields, p: 'x'.repeat(Math.max(0, bytes - bare)) };
}
