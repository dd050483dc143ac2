// Replaces every known secret value with a marker. Used on every log line and on every
// message that leaves the process, because library errors may quote what they were given.
export function createScrubber (secrets: string[]): (text: string) => string {
  if (secrets.length === 0) return text => text
  // A log line arrives serialized: a secret with a quote or a backslash is in it JSON-escaped.
  const forms = [...new Set(secrets.flatMap(secret => [secret, JSON.stringify(secret).slice(1, -1)]))]
  return text => {
    let out = text
    for (const form of forms) {
      if (out.includes(form)) out = out.split(form).join('[redacted]')
    }
    return out
  }
}

// pino redaction by path, for objects that carry secrets under their usual names.
export const redactPaths = [
  'password', '*.password', '*.*.password', '*.*.*.password',
  'req.headers.authorization', 'headers.authorization', '*.headers.authorization'
]
