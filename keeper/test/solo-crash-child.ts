// Child process for the kill -9 test: opens a SoloKeeper in argv[2] and
// writes keys as fast as it can, printing each acknowledged revision, until
// it is killed.

import { SoloKeeper } from '../src/solo-keeper.js';

const dataDir = process.argv[2];
if (dataDir === undefined) throw new Error('usage: solo-crash-child <dataDir>');
const keeper = await SoloKeeper.open({
  dataDir,
  member: { id: 'n1', peer: 'p', api: 'a', gateway: 'g', zone: 'z' },
  snapshotEveryCommands: 50,
});
for (let i = 0; ; i++) {
  // A few concurrent writes per round, so acknowledged writes come from shared batches.
  const rounds = [0, 1, 2].map((j) => keeper.put(`k/${i}/${j}`, String(i)).then((r) => `${i}/${j} ${r.revision}\n`));
  for (const line of await Promise.all(rounds)) process.stdout.write(line);
}
