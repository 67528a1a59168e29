// A throwaway CA and a certificate for 127.0.0.1, written to a temp dir for
// `longwire start --tls-cert/--tls-key`; clients trust the CA PEM. Made with
// the node's own certs.ts (what `longwire certs` uses), removed when dropped.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCa, createNodeCert } from '../../node/src/certs.js';
import { trackDir, untrackDir } from './reaper.js';

export interface TlsMaterial {
  /** The CA certificate, PEM: what a client passes as `ca`. */
  readonly ca: string;
  readonly certFile: string;
  readonly keyFile: string;
  drop(): Promise<void>;
}

export async function makeTlsMaterial(): Promise<TlsMaterial> {
  const dir = await mkdtemp(join(tmpdir(), 'longwire-bench-tls-'));
  trackDir(dir);
  const ca = await createCa({ name: 'longwire bench CA' });
  const pair = await createNodeCert(ca, 'bench', ['127.0.0.1']);
  const certFile = join(dir, 'node.crt');
  const keyFile = join(dir, 'node.key');
  await writeFile(certFile, pair.cert);
  await writeFile(keyFile, pair.key, { mode: 0o600 });
  return {
    ca: ca.cert,
    certFile,
    keyFile,
    async drop() {
      await rm(dir, { recursive: true, force: true });
      untrackDir(dir);
    },
  };
}
