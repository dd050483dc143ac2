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

// Secret values from the file, its environment overrides and the AWS credentials in the
// environment. Very short values are left out: scrubbing "ab" would mangle every log line.
export function secretValues (keys: string[], file: Record<string, unknown>, merged: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const values = [
    // Both the file's value and its override: the one not in use is still a secret.
    ...keys.flatMap(key => {
      const [section, name] = key.split('.')
      return [file, merged].map(source => (source[section] as Record<string, unknown> | undefined)?.[name])
    }),
    env.AWS_SECRET_ACCESS_KEY,
    env.AWS_SESSION_TOKEN
  ]
  return [...new Set(values.map(value => typeof value === 'number' ? String(value) : value)
    .filter((value): value is string => typeof value === 'string' && value.length >= 4))]
}
