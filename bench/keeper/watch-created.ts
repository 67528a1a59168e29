// Waiting for a bench watch to be established, bounded: the etcd targets
// (gateway and gRPC) both learn it from a `created` message on the stream.

/** Resolves once `established` does; on its failure or after `ms`, closes the watch and throws. */
export async function createdWithin(established: Promise<void>, close: () => void, what: string, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not created within ${ms / 1000} s`)), ms);
  });
  try {
    await Promise.race([established, late]);
  } catch (err) {
    close();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
