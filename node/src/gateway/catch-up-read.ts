// A catch-up's history read (topic-subscription.ts), tried again. The pub
// that shows a node the hole was often itself held up by a partition, so it
// arrives just as the link to the owner comes back or flaps, and a read made
// then can fail at once; a hole left by a failed read stays for good (the
// later pubs go past it). The subscription holds the live pubs meanwhile (at
// most REPLAY_BUFFER_MAX; the history gives back any dropped past it).

/** Pauses before the second, third … read. */
export const CATCH_UP_RETRY_MS: readonly number[] = [250, 500, 1000, 2000, 4000];
/** No read starts after this long: the held pubs then go on without the hole filled. */
export const CATCH_UP_DEADLINE_MS = 15_000;

export interface CatchUpReadOptions {
  readonly retryMs?: readonly number[];
  readonly deadlineMs?: number;
  /** False once the connection closed or left the topic: no more reads. */
  readonly wanted: () => boolean;
}

/** The history, or undefined when every read failed (or it is no longer wanted). */
export async function catchUpRead<T>(read: () => Promise<T>, o: CatchUpReadOptions): Promise<T | undefined> {
  const retryMs = o.retryMs ?? CATCH_UP_RETRY_MS;
  const deadline = Date.now() + (o.deadlineMs ?? CATCH_UP_DEADLINE_MS);
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch {
      const pause = retryMs[attempt];
      if (pause === undefined || Date.now() + pause > deadline || !o.wanted()) return undefined;
      await new Promise((r) => setTimeout(r, pause));
      if (!o.wanted()) return undefined;
    }
  }
}
