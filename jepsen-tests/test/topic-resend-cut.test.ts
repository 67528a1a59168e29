// A node cut off while topics went quiet gets each topic's newest pub once
// the cut heals (support/quiet-topics-cut.ts). Runs in a network namespace of
// its own when it can.
import { quietTopicsCut } from './support/quiet-topics-cut.js';
import { isolatedTest } from './support/isolated-test.js';

isolatedTest("a node cut off while topics went quiet gets each topic's newest pub once the cut heals", { file: import.meta.url }, () => quietTopicsCut({ restartOwners: false }));
