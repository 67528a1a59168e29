// Child process for the kill -9 test: opens a one-member RaftKeeper in argv[2]
// and writes keys as fast as it can, printing each acknowledged revision,
// until it is killed.

import { RaftKeeper } from '../src/raft-keeper.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: raft-crash-child <dataDir>');
const keeper = await RaftKeeper.open({
  dataDir,
  member: { id: 'n1', peer: '127.0.0.1:7802', api: 'a', gateway: 'g', zone: 'z' },
  listen: { host: '127.0.0.1', port: 0 },
  snapshotEntries: 50,
  compactionKeepEntries: 10,
});
for (let i = 0; ; i++) {
  // A few concurrent writes per round, so acknowledged writes come from shared Raft batches.
  const rounds = [0, 1, 2].map((j) => keeper.put(`k/${i}/${j}`, String(i)).then((r) => `${i}/${j} ${r.revision}\n`));
  for (const line of await Promise.all(rounds)) process.stdout.write(line);
}
