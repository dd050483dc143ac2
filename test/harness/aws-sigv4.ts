import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

// SigV4's canonical request and string to sign, rebuilt from the request as it arrived: what S3
// and DynamoDB quote back when a signature does not match.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
export function signedParts (req: IncomingMessage, url: URL, body: string) {
  const authorization = req.headers.authorization ?? ''
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization)?.[1] ?? ''
  const scope = (/Credential=([^,]+)/.exec(authorization)?.[1] ?? '').split('/').slice(1).join('/')
  const encode = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  const query = [...url.searchParams].map(([name, value]) => `${encode(name)}=${encode(value)}`).sort().join('&')
  const headers = signedHeaders.split(';').map(name => `${name}:${String(req.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('')
  // S3 clients send the payload's hash in a header; other services hash the body themselves.
  const payloadHash = String(req.headers['x-amz-content-sha256'] ?? sha256(body))
  const canonicalRequest = [req.method, url.pathname, query, headers, signedHeaders, payloadHash].join('\n')
  const stringToSign = ['AWS4-HMAC-SHA256', String(req.headers['x-amz-date'] ?? ''), scope, sha256(canonicalRequest)].join('\n')
  return { canonicalRequest, stringToSign }
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
