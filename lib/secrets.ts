// Replaces every known secret value with a marker. Used on every log line and on every
// message that leaves the process, because library errors may quote what they were given.
export function createScrubber (secrets: string[]): (text: string) => string {
  if (secrets.length === 0) return text => text
  return text => {
    let out = text
    for (const secret of secrets) {
      if (out.includes(secret)) out = out.split(secret).join('[redacted]')
    }
    return out
  }
}

// pino redaction by path, for objects that carry secrets under their usual names.
export const redactPaths = [
  'password', '*.password', '*.*.password', '*.*.*.password',
  'req.headers.authorization', 'headers.authorization', '*.headers.authorization'
]
