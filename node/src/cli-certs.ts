// `longwire certs`: a development CA and node certificates in a directory, for
// TLS on the client and API ports and mutual TLS between peers (certs.ts).
// An existing CA in the directory is reused, so nodes can be added later.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createCa, createNodeCert, type PemPair } from './certs.js';

const NODE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export async function certs(argv: string[]): Promise<string> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string', default: './certs' },
      nodes: { type: 'string', default: 'n1' },
      hosts: { type: 'string', default: '127.0.0.1,localhost' },
      days: { type: 'string', default: '825' },
    },
    strict: true,
  });
  const ids = values.nodes.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const id of ids) if (!NODE_ID.test(id)) throw new Error(`--nodes: ${JSON.stringify(id)} is not a node id`);
  const hosts = values.hosts.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const days = Number(values.days);
  if (!Number.isInteger(days) || days < 1 || days > 3650) throw new Error('--days must be 1..3650');
  mkdirSync(values.out, { recursive: true, mode: 0o700 });
  const caCert = join(values.out, 'ca.pem');
  const caKey = join(values.out, 'ca-key.pem');
  let ca: PemPair;
  const lines: string[] = [];
  if (existsSync(caCert) && existsSync(caKey)) {
    ca = { cert: readFileSync(caCert, 'utf8'), key: readFileSync(caKey, 'utf8') };
    lines.push(`reused CA   ${caCert}`);
  } else {
    ca = await createCa();
    writeFileSync(caCert, ca.cert);
    writeFileSync(caKey, ca.key, { mode: 0o600 });
    lines.push(`created CA  ${caCert} (key ${caKey}: keep it off the nodes)`);
  }
  for (const id of ids) {
    // Each node id is a SAN too, so a certificate also verifies by the node's name.
    const pair = await createNodeCert(ca, id, [...new Set([...hosts, id])], days);
    writeFileSync(join(values.out, `${id}.pem`), pair.cert);
    writeFileSync(join(values.out, `${id}-key.pem`), pair.key, { mode: 0o600 });
    lines.push(`node ${id.padEnd(6)} ${join(values.out, `${id}.pem`)}, ${join(values.out, `${id}-key.pem`)}`);
  }
  const d = values.out;
  const first = ids[0] ?? 'n1';
  lines.push(
    '',
    `start ${first} with TLS on every port:`,
    `  longwire start --id ${first} --tls-cert ${d}/${first}.pem --tls-key ${d}/${first}-key.pem \\`,
    `    --peer-ca ${d}/ca.pem --peer-cert ${d}/${first}.pem --peer-key ${d}/${first}-key.pem`,
    `clients trust ${d}/ca.pem (Node: NODE_EXTRA_CA_CERTS=${d}/ca.pem; curl: --cacert ${d}/ca.pem)`,
  );
  return lines.join('\n') + '\n';
}
