// The serial number of the certificate a TLS server on loopback presents now
// (to see a reload take effect); `client` for a port that asks for one (the peer port).
import { connect as tlsConnect } from 'node:tls';

export function servedSerial(port: number, ca: string, client?: { readonly cert: string; readonly key: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, ...(client ?? {}) }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.end();
      resolve(serial);
    });
    s.once('error', reject);
  });
}
