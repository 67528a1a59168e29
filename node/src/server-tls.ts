// The certificate and key the gateway and API serve (--tls-cert/--tls-key).
// Read at start and again on SIGHUP; a pair that does not load is refused
// with the reason, and on reload the old pair stays in use.
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface TlsPair {
  /** PEM. */
  readonly cert: string;
  readonly key: string;
}

export class TlsLoadError extends Error {
  override readonly name = 'TlsLoadError';
}

export function readTlsPair(files: TlsFiles): TlsPair {
  let pair: TlsPair;
  try {
    pair = { cert: readFileSync(files.certFile, 'utf8'), key: readFileSync(files.keyFile, 'utf8') };
  } catch (err) {
    throw new TlsLoadError(`cannot read TLS files: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    // Fails now, with OpenSSL's reason, on a bad PEM or a key that does not match the certificate.
    createSecureContext(pair);
  } catch (err) {
    throw new TlsLoadError(`${files.certFile} / ${files.keyFile}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return pair;
}
