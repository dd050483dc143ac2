import { join } from 'node:path'
import { LOOPBACK } from './ports.ts'
import { findExecutable, makeTempDir, runTool } from './process.ts'

export interface TlsFiles {
  /** The CA to trust, e.g. through NODE_EXTRA_CA_CERTS */
  caFile: string
  /** The server's certificate, for LOOPBACK and localhost, signed by caFile */
  certFile: string
  keyFile: string
}

// Both certificates through `openssl req -x509` (its -CA option needs OpenSSL 3), with P-256
// keys: an RSA key takes up to a second to generate, an EC key a millisecond.
const NEW_CERT = ['req', '-x509', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-days', '2']

/** A throwaway CA and a server certificate it signed, in a temp dir removed when the process exits. */
export async function makeCertificates (): Promise<TlsFiles> {
  const openssl = findExecutable('openssl')
  const dir = await makeTempDir('tls')
  const caKey = join(dir, 'ca.key')
  const files = { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') }
  await runTool(openssl, [
    ...NEW_CERT, '-subj', '/CN=suaicloudapp test CA', '-keyout', caKey, '-out', files.caFile,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'
  ])
  // Clients check the name they dialled against the IP and DNS names here, not the CN.
  await runTool(openssl, [
    ...NEW_CERT, '-subj', '/CN=localhost', '-CA', files.caFile, '-CAkey', caKey, '-keyout', files.keyFile, '-out', files.certFile,
    '-addext', `subjectAltName=IP:${LOOPBACK},DNS:localhost`, '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth'
  ])
  return files
}
