/**
 * A daemon's TLS key pair (the API's HTTPS, the lb's SIP over TLS): read from
 * `tls.cert`/`tls.key`, or — on first start, when both are missing and `tls.generate` is
 * on — a self-signed certificate for `tls.hostnames` (RSA 2048, SHA-256, serverAuth)
 * written there (key mode 0600).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import { generate } from 'selfsigned';

export interface KeyPair { key: string; cert: string; generated: boolean }

/** Where the pair lives and how to make one (the `tls` section of a daemon's config). */
export interface CertificateConfig {
  cert: string;
  key: string;
  /** create a self-signed pair at these paths on first start if both are missing */
  generate: boolean;
  /** subjectAltNames (IPs or DNS names); the first is the common name */
  hostnames: readonly string[];
  days: number;
}

export async function ensureCertificate(tls: CertificateConfig): Promise<KeyPair> {
  const haveCert = existsSync(tls.cert);
  const haveKey = existsSync(tls.key);
  if (haveCert && haveKey) return { key: readFileSync(tls.key, 'utf8'), cert: readFileSync(tls.cert, 'utf8'), generated: false };
  if (haveCert !== haveKey) throw new Error(`tls: only one of ${tls.cert} and ${tls.key} exists; remove it or provide both`);
  if (!tls.generate) throw new Error(`tls: ${tls.cert} and ${tls.key} do not exist and tls.generate is off`);
  const pems = await selfSigned(tls.hostnames, tls.days);
  mkdirSync(dirname(tls.key), { recursive: true, mode: 0o700 });
  mkdirSync(dirname(tls.cert), { recursive: true });
  writeFileSync(tls.key, pems.key, { mode: 0o600 });
  writeFileSync(tls.cert, pems.cert, { mode: 0o644 });
  return { ...pems, generated: true };
}

export function selfSigned(hostnames: readonly string[], days: number): Promise<{ key: string; cert: string }> {
  const cn = hostnames[0] ?? 'localhost';
  const altNames = hostnames.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h }));
  return new Promise((resolve, reject) => {
    generate(
      [{ name: 'commonName', value: cn }, { name: 'organizationName', value: 'ngcp' }],
      {
        days,
        keySize: 2048,
        algorithm: 'sha256',
        extensions: [
          { name: 'basicConstraints', cA: false },
          { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
          { name: 'extKeyUsage', serverAuth: true },
          { name: 'subjectAltName', altNames },
        ],
      },
      (err, res) => (err ? reject(err) : resolve({ key: res.private, cert: res.cert })),
    );
  });
}
