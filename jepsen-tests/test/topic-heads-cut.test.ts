// As topic-resend-cut, with the topics' owners restarted during the cut: the
// pubs they owed the cut-off node are forgotten with them, and its subscriber
// still gets each topic's newest once the cut heals, from the owners' answer
// to its interest sync (support/quiet-topics-cut.ts). Runs in a network
// namespace of its own when it can.
import { quietTopicsCut } from './support/quiet-topics-cut.js';
import { isolatedTest } from './support/isolated-test.js';

isolatedTest("a node cut off while topics went quiet gets each topic's newest pub once the cut heals, also when the owners restarted meanwhile", { file: import.meta.url }, () => quietTopicsCut({ restartOwners: true }));
