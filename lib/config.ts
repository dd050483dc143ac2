import { readFileSync, existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import envSchema from 'env-schema'
import { parse, TomlError } from 'smol-toml'
import { closest, distance } from 'fastest-levenshtein'
import { Ajv, type ErrorObject } from 'ajv'
import { ConfigSchema, secretKeys, type Config } from './config-schema.ts'

export type { Config }

export interface ConfigProblem {
  message: string
  // The offending line of the file with a caret under the column (syntax errors only).
  excerpt?: string
}

export type LoadedConfig = (
  | { ok: true, file: string, config: Config }
  // `fallback` is how a server with a broken config still listens and logs, to answer
  // /health with the problems: the configured host and port where readable, else defaults.
  | { ok: false, file?: string, problems: ConfigProblem[], fallback: Pick<Config, 'server' | 'log'> }
) & {
  // Values that must never appear in a log line, a response or an error text.
  secrets: string[]
}

export interface LoadOptions {
  // --config PATH; wins over everything else.
  path?: string
  cwd: string
  env: NodeJS.ProcessEnv
  // Folder of the executable (or of cli.ts when run from sources), the last place looked in.
  programDir: string
}

type Table = Record<string, unknown>
type ObjectSchema = { properties: Record<string, { type?: string, description?: string, properties?: unknown }> }

// env-schema's own instance coerces types; a string where a number belongs is a mistake to
// report, not to coerce.
const ajv = new Ajv({ allErrors: true, useDefaults: true, removeAdditional: true, coerceTypes: false })
const sections = (ConfigSchema as unknown as ObjectSchema).properties
// Anywhere on the line: an inline table or a dotted key puts the secret's key mid-line.
const SECRET_LINE = /(password|token|secret)\w*["']?\s*=/i

export function envName (section: string, key: string): string {
  return `SUAI_${section}_${key}`.toUpperCase()
}

export function findConfigFile ({ path, cwd, env, programDir }: LoadOptions): { file: string } | { problem: string } {
  const explicit = path ?? env.SUAI_CONFIG
  if (explicit) {
    const file = resolve(cwd, explicit)
    const source = path ? '--config' : 'SUAI_CONFIG'
    return existsSync(file) ? { file } : { problem: `config file not found: ${file} (from ${source}); check the path` }
  }
  const candidates = [...new Set([join(cwd, 'config.toml'), join(programDir, 'config.toml')])]
  const file = candidates.find(candidate => existsSync(candidate))
  return file
    ? { file }
    : { problem: `config file not found: looked for ${candidates.join(' and ')}; copy config.toml next to suaicloudapp (see README) or pass --config PATH` }
}

export function loadConfig (options: LoadOptions): LoadedConfig {
  const found = findConfigFile(options)
  if ('problem' in found) return failed(undefined, [{ message: found.problem }], {}, options.env)
  const { file } = found

  let text: string
  try {
    // TOML is UTF-8. The decoder drops a BOM (Windows editors write one; TOML parsers reject
    // it) and refuses any other byte, which would otherwise become U+FFFD inside a host name.
    text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(file))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const message = code === 'ERR_ENCODING_INVALID_ENCODED_DATA'
      ? `${file}: not valid UTF-8 text; save it as UTF-8 (is it a binary, or in another encoding?)`
      : `${file}: cannot read the config file (${code}); check that it is a readable file`
    return failed(file, [{ message }], {}, options.env)
  }

  let raw: Table
  try {
    raw = parse(text) as Table
  } catch (err) {
    if (!(err instanceof TomlError)) throw err
    const reason = err.message.split('\n')[0].replace(/^Invalid TOML document: /, '')
    return failed(file, [{
      message: `${file}:${err.line}:${err.column}: TOML syntax error: ${reason}; fix that line (strings need quotes, one key per line, [section] headers)`,
      excerpt: excerpt(text, err.line, err.column)
    }], {}, options.env)
  }

  const lines = lineIndex(text)
  const problems = unknownKeys(raw, file, lines)
  const data = withEnvOverrides(raw, options.env)
  try {
    const config = validate(data)
    if (problems.length === 0) return { ok: true, file, config, secrets: secretValues(raw, options.env) }
  } catch (err) {
    const errors = (err as { errors?: ErrorObject[] }).errors ?? []
    problems.push(...errors.map(error => schemaProblem(error, data, file, lines, options.env)))
  }
  return failed(file, problems, raw, options.env)
}

function failed (file: string | undefined, problems: ConfigProblem[], data: Table, env: NodeJS.ProcessEnv): LoadedConfig {
  const { server, log } = validate({})
  const given = withEnvOverrides(data, env).server as Table | undefined
  if (typeof given?.host === 'string' && given.host !== '') server.host = given.host
  if (Number.isInteger(given?.port) && (given!.port as number) >= 1 && (given!.port as number) <= 65535) server.port = given!.port as number
  // A token the file sets keeps guarding /logs even while another key is broken.
  if (typeof given?.admin_token === 'string' && given.admin_token.length >= 16) server.admin_token = given.admin_token
  return { ok: false, file, problems, fallback: { server, log }, secrets: secretValues(data, env) }
}

function validate (data: Table): Config {
  return envSchema<Config>({
    // structuredClone: env-schema writes into the schema it is given.
    schema: structuredClone(ConfigSchema),
    data,
    env: false,
    ajv
  })
}

function unknownKeys (raw: Table, file: string, lines: Map<string, number>): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const [section, value] of Object.entries(raw)) {
    const known = sections[section]
    if (!known) {
      problems.push({ message: `${where(file, lines, section)}unknown section [${name(section)}]${suggest(section, Object.keys(sections))}; known sections: ${Object.keys(sections).join(', ')}` })
      continue
    }
    if (!isTable(value)) continue // the schema reports the wrong type
    const keys = Object.keys(known.properties as Table)
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) {
        problems.push({ message: `${where(file, lines, section, key)}unknown key ${section}.${name(key)}${suggest(key, keys)}; [${section}] takes ${keys.join(', ')}` })
      }
    }
  }
  return problems
}

function suggest (word: string, candidates: string[]): string {
  const best = closest(word, candidates)
  return distance(word, best) <= Math.max(2, Math.floor(best.length / 3)) ? ` — did you mean ${best}?` : ''
}

// SUAI_<SECTION>_<KEY> overrides the file. Values arrive as text and are read as a number or a
// boolean only where the schema wants one and the text is one, so a bad value is still reported
// against its variable.
function fromEnvText (value: string, type: string | undefined): unknown {
  const text = value.trim()
  if (type === 'integer' && /^-?\d+$/.test(text)) return Number(text)
  if (type === 'boolean' && /^(true|false)$/i.test(text)) return text.toLowerCase() === 'true'
  return value
}

function withEnvOverrides (raw: Table, env: NodeJS.ProcessEnv): Table {
  const data: Table = { ...raw }
  for (const [section, schema] of Object.entries(sections)) {
    for (const [key, keySchema] of Object.entries(schema.properties as Record<string, { type?: string }>)) {
      const value = env[envName(section, key)]
      if (value === undefined) continue
      // A section of the wrong type stays as it is, for the schema to report.
      if (data[section] !== undefined && !isTable(data[section])) continue
      const table = isTable(data[section]) ? { ...data[section] } : {}
      table[key] = fromEnvText(value, keySchema.type)
      data[section] = table
    }
  }
  return data
}

function schemaProblem (error: ErrorObject, data: Table, file: string, lines: Map<string, number>, env: NodeJS.ProcessEnv): ConfigProblem {
  const path = error.instancePath.split('/').filter(Boolean)
  if (error.keyword === 'required') {
    const missing = String(error.params.missingProperty)
    const section = path[0]
    const description = sectionKeyDescription(section, missing)
    return {
      message: section
        ? `${where(file, lines, section)}missing key ${section}.${missing} (${description}); add it under [${section}] or set ${envName(section, missing)}`
        : `${file}: missing section [${missing}]`
    }
  }
  const [section, key] = path
  const dotted = path.join('.')
  const fromEnv = key !== undefined && env[envName(section, key)] !== undefined
  const origin = fromEnv ? `${envName(section, key)}: ` : where(file, lines, section, key)
  const value = path.reduce<unknown>((node, part) => (node as Table | undefined)?.[part], data)
  // A whole section is described, never shown: it may hold a password.
  const shown = secretKeys.includes(dotted) ? '' : ` (got ${key === undefined ? kind(value) : render(value)})`
  const expected = key === undefined
    ? 'must be a table: write it as a [' + section + '] header followed by key = value lines'
    : expectation(error, sectionKeyDescription(section, key))
  return { message: `${origin}${dotted} ${expected}${shown}` }
}

function expectation (error: ErrorObject, description: string): string {
  switch (error.keyword) {
    case 'type': return `must be ${error.params.type === 'integer' ? 'a whole number' : `a ${error.params.type}`}: ${description}`
    case 'minimum':
    case 'maximum': return `is out of range: ${description}`
    case 'minLength': return Number(error.params.limit) > 1 ? `is too short: ${description}` : `must not be empty: ${description}`
    case 'maxLength': return `is too long: ${description}`
    case 'enum': return `must be one of ${(error.params.allowedValues as string[]).join(', ')}`
    default: return `${error.message}: ${description}`
  }
}

function sectionKeyDescription (section: string, key: string): string {
  const keySchema = (sections[section]?.properties as Record<string, { description?: string }> | undefined)?.[key]
  return keySchema?.description ?? key
}

// The first line of each key ("server.port") and section header ("[server]"), found in one
// pass: a file with thousands of problems must not be searched once per problem.
function lineIndex (text: string): Map<string, number> {
  const index = new Map<string, number>()
  let current = ''
  text.split(/\r?\n/).forEach((source, i) => {
    const line = source.trim()
    const header = /^\[\s*([^\]\s]+)\s*\]/.exec(line)
    if (header) current = header[1]
    const assigned = header ? undefined : /^["']?([\w.-]+)["']?\s*=/.exec(line)?.[1]
    const full = header ? `[${current}]` : assigned && (current ? `${current}.${assigned}` : assigned)
    if (full && !index.has(full)) index.set(full, i + 1)
  })
  return index
}

// "file:line: " for a key (or a section) whose line is known, else "file: ".
function where (file: string, lines: Map<string, number>, section: string, key?: string): string {
  const line = key === undefined ? lines.get(`[${section}]`) ?? lines.get(section) : lines.get(`${section}.${key}`)
  return line ? `${file}:${line}: ` : `${file}: `
}

// A window of the line around the column (a line can be megabytes long), printable.
function excerpt (text: string, line: number, column: number): string {
  const source = text.split(/\r?\n/)[line - 1] ?? ''
  // Never echo a secret, even a mistyped one.
  const shown = SECRET_LINE.test(source) ? source.replace(/=.*/, '= [redacted]') : source
  const start = Math.max(0, column - 61)
  const before = start > 0 ? '…' : ''
  const after = start + 120 < shown.length ? '…' : ''
  return `${String(line).padStart(4)} | ${before}${printable(shown.slice(start, start + 120))}${after}\n     | ${' '.repeat(before.length + Math.max(0, column - 1 - start))}^`
}

// A value as a message shows it: in TOML's words where JSON has none, printable, short.
function render (value: unknown): string {
  if (value instanceof Date) return `the date ${JSON.stringify(value)}, which needs quotes to be a string`
  if (typeof value === 'number' && !Number.isFinite(value)) return Number.isNaN(value) ? 'nan' : value > 0 ? 'inf' : '-inf'
  return name(JSON.stringify(value))
}

function kind (value: unknown): string {
  return Array.isArray(value) ? 'an array' : value instanceof Date ? 'a date' : `a ${typeof value}`
}

// A key, section or value from the file: control characters as their Unicode pictures (a
// terminal would act on an ESC), one for one so a caret below keeps its column; at most 80.
function name (text: string): string {
  const shown = printable(text)
  return shown.length > 80 ? `${shown.slice(0, 80)}… (${shown.length} characters)` : shown
}

function printable (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, c => String.fromCharCode(c === '\u007f' ? 0x2421 : 0x2400 + c.charCodeAt(0)))
}

function isTable (value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}

// Secret values from the file, its environment overrides and the AWS credentials in the
// environment. Very short values are left out: scrubbing "ab" would mangle every log line.
function secretValues (data: Table, env: NodeJS.ProcessEnv): string[] {
  const merged = withEnvOverrides(data, env)
  const values = [
    // Both the file's value and its override: the one not in use is still a secret.
    ...secretKeys.flatMap(key => {
      const [section, name] = key.split('.')
      return [data, merged].map(source => (source[section] as Table | undefined)?.[name])
    }),
    env.AWS_SECRET_ACCESS_KEY,
    env.AWS_SESSION_TOKEN
  ]
  return [...new Set(values.map(value => typeof value === 'number' ? String(value) : value)
    .filter((value): value is string => typeof value === 'string' && value.length >= 4))]
}

export function programDir (): string {
  // In a packed executable argv[1] is not a script; the executable's own folder is the place.
  return isPacked() ? dirname(process.execPath) : dirname(resolve(process.argv[1] ?? '.'))
}

// True inside the built executable. Bun's single-file executable runs its entry script from the
// file system embedded in the binary, so argv[1] is /$bunfs/root/…, never a file on disk:
// https://bun.com/docs/bundler/executables
export function isPacked (): boolean {
  return process.argv[1]?.startsWith('/$bunfs/') ?? false
}
