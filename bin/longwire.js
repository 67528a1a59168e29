#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run by `prepare` on install).
import('../dist/node/src/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/node/src/cli.js')) {
    console.error('longwire: not built yet; run `npm run build` (npm install does it via prepare)');
    process.exit(1);
  }
  throw err;
});
