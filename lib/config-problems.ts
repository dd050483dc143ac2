import { closest, distance } from 'fastest-levenshtein'
import type { ErrorObject } from 'ajv'
import type { TObject } from '@sinclair/typebox'

// How a problem in config.toml is told: the file and line, the key, what was found (never a
// secret) and what to write instead.

export interface ConfigProblem {
  message: string
  // The section it belongs to; unset for a file that could not be read or parsed at all.
  section?: string
  key?: string
  line?: number
  // The offending line of the file with a caret under the column (syntax errors only).
  excerpt?: string
}

type Table = Record<string, unknown>
type SchemaError = Pick<ErrorObject, 'instancePath' | 'keyword' | 'params' | 'message'>
type KeySchema = { type?: string, description?: string }

// Where a file's keys and sections are, and what the schema says of them.
export interface ProblemContext {
  file: string
  lines: Map<string, number>
  sections: Record<string, TObject>
  secretKeys: string[]
  env: NodeJS.ProcessEnv
}

export function envName (section: string, key: string): string {
  return `SUAI_${section}_${key}`.toUpperCase()
}

export function keySchema (sections: Record<string, TObject>, section: string, key: string): KeySchema | undefined {
  return (sections[section]?.properties as Record<string, KeySchema> | undefined)?.[key]
}

function problem (context: ProblemContext, section: string, key: string | undefined, message: string): ConfigProblem {
  const line = lineOf(context.lines, section, key)
  return { message: `${line ? `${context.file}:${line}: ` : `${context.file}: `}${message}`, section, ...(key ? { key } : {}), ...(line ? { line } : {}) }
}

export function unknownSection (context: ProblemContext, section: string): ConfigProblem {
  const known = Object.keys(context.sections)
  return problem(context, section, undefined, `unknown section [${name(section)}]${suggest(section, known)}; known sections: ${known.join(', ')}`)
}

// A key = value line before any [section] header.
export function keyOutsideSections (context: ProblemContext, key: string): ConfigProblem {
  const owners = Object.keys(context.sections).filter(section => keySchema(context.sections, section, key))
  const fix = owners.length > 0 ? `move it under ${owners.map(section => `[${section}]`).join(' or ')}` : `known sections: ${Object.keys(context.sections).join(', ')}`
  return problem(context, key, undefined, `key ${name(key)} is outside any section; every key belongs under a [section] header: ${fix}`)
}

export function unknownKey (context: ProblemContext, section: string, key: string): ConfigProblem {
  const keys = Object.keys(context.sections[section].properties)
  // A key of another section (region under [s3]) is in the wrong place, not misspelt.
  const owners = Object.keys(context.sections).filter(other => other !== section && keySchema(context.sections, other, key))
  const fix = owners.length > 0 ? `: ${name(key)} belongs under ${owners.map(owner => `[${owner}]`).join(' or ')}; move it there` : suggest(key, keys)
  return problem(context, section, key, `unknown key ${section}.${name(key)}${fix}; [${section}] takes ${keys.join(', ')}`)
}

// SUAI_* variables that override nothing: a misspelt override would otherwise be ignored in
// silence, and the student would wonder why the file's value still wins.
export function unknownOverrides (env: NodeJS.ProcessEnv, sections: Record<string, TObject>): string[] {
  const known = ['SUAI_CONFIG', ...Object.entries(sections).flatMap(([section, schema]) => Object.keys(schema.properties).map(key => envName(section, key)))]
  return Object.keys(env).filter(variable => variable.startsWith('SUAI_') && !known.includes(variable))
    .map(variable => `environment variable ${name(variable)} is not a setting and is ignored${suggest(variable, known)}`)
}

// What a TOML syntax error means in a config file, from the line it stopped on: the parser
// says where it stopped, not what is missing ("control characters are not allowed in strings"
// for a string without its closing quote). The column is where the fix goes.
export function explainSyntax (text: string, line: number, column: number, reason: string): { reason: string, column: number } {
  const source = text.split(/\r?\n/)[line - 1] ?? ''
  const end = source.trimEnd().length + 1
  const header = /^\s*\[/.test(source)
  if (header && !source.includes(']')) return { reason: 'the section header has no closing ]: write it as [section]', column: end }
  const assignment = /^(\s*[\w.-]+\s*)=\s*(.*)$/.exec(source)
  if (!header && !assignment && /^\s*[\w.-]+\s+\S/.test(source)) {
    return { reason: 'no = between the key and its value: write key = value', column: source.search(/\S\s/) + 2 }
  }
  if (assignment) {
    const value = assignment[2].trimEnd()
    const quote = value[0]
    if ((quote === "'" || quote === '"') && value.indexOf(quote, 1) === -1) {
      return { reason: `the string is not closed: add the closing ${quote} at the end of the line`, column: end }
    }
    // A bare word or a dotted address (a host name, 0.0.0.0) that the student meant as text.
    const bare = value.replace(/\s*#.*$/, '')
    const at = source.indexOf(value, assignment[1].length + 1) + 1
    const key = assignment[1].trim()
    if (/^(yes|no|on|off)$/i.test(bare)) return { reason: `TOML's booleans are true and false: write ${key} = ${/^(yes|on)$/i.test(bare) ? 'true' : 'false'}`, column: at }
    if ((/^[A-Za-z_]/.test(bare) && !/^(true|false|inf|nan)\b/.test(bare)) || /^\d+(\.\d+){2,}$/.test(bare)) {
      // Never echo a secret, even a mistyped one.
      return { reason: `the value is not quoted: put it in quotes, ${key} = '${SECRET_LINE.test(source) ? '…' : bare}'`, column: at }
    }
  }
  if (/followed by an end-of-line/.test(reason)) return { reason: 'one key = value per line: what follows the value is not part of it (quote the value if it is one string)', column }
  return { reason: `${reason}; fix that line (strings need quotes, one key = value per line, [section] headers)`, column }
}

// TOML tells 8080 from 8080.0; JSON Schema does not, so the float is caught here.
export function floatForInteger (context: ProblemContext, section: string, key: string, value: number): ConfigProblem {
  const description = keySchema(context.sections, section, key)?.description ?? key
  return problem(context, section, key, `${section}.${key} must be a whole number: ${description} (got ${value.toFixed(1)}, a float; write ${value} without the decimal point)`)
}

// One error of a section's schema, `data` being the section as validated.
export function schemaProblem (context: ProblemContext, section: string, error: SchemaError, data: unknown): ConfigProblem {
  const [key] = error.instancePath.split('/').filter(Boolean)
  if (error.keyword === 'required') {
    const missing = String(error.params.missingProperty)
    const description = keySchema(context.sections, section, missing)?.description ?? missing
    return { ...problem(context, section, undefined, `missing key ${section}.${missing} (${description}); add it under [${section}] or set ${envName(section, missing)}`), key: missing }
  }
  const dotted = key === undefined ? section : `${section}.${key}`
  const value = key === undefined ? data : (data as Table | undefined)?.[key]
  // A whole section is described, never shown: it may hold a password.
  const shown = context.secretKeys.includes(dotted) ? '' : ` (got ${key === undefined ? kind(value) : render(value)})`
  const expected = key === undefined
    ? `must be a table: write it as a [${section}] header followed by key = value lines${Array.isArray(value) ? ` ([[${section}]] makes an array of tables)` : ''}`
    : expectation(error, keySchema(context.sections, section, key)?.description ?? key)
  const fromEnv = key !== undefined && context.env[envName(section, key)] !== undefined
  if (fromEnv) return { message: `${envName(section, key)}: ${dotted} ${expected}${shown}`, section, key }
  return problem(context, section, key, `${dotted} ${expected}${shown}`)
}

function expectation (error: SchemaError, description: string): string {
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

// The candidate a typo most likely meant: within two edits, or a third of its length.
export function likelyMeant (word: string, candidates: string[]): string | undefined {
  if (candidates.length === 0) return undefined
  const best = closest(word, candidates)
  return distance(word, best) <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined
}

function suggest (word: string, candidates: string[]): string {
  const best = likelyMeant(word, candidates)
  return best ? ` — did you mean ${best}?` : ''
}

// The first line of each key ("server.port") and section header ("[server]", "[[server]]"),
// found in one pass: a file with thousands of problems must not be searched once per problem.
// A key before any header is indexed by its own name.
export function lineIndex (text: string): Map<string, number> {
  const index = new Map<string, number>()
  let current = ''
  text.split(/\r?\n/).forEach((source, i) => {
    const line = source.trim()
    const header = /^\[\[?\s*([^\]\s]+)\s*\]\]?/.exec(line)
    if (header) current = header[1]
    const assigned = header ? undefined : /^["']?([\w.-]+)["']?\s*=/.exec(line)?.[1]
    const full = header ? `[${current}]` : assigned && (current ? `${current}.${assigned}` : assigned)
    if (full && !index.has(full)) index.set(full, i + 1)
  })
  return index
}

function lineOf (lines: Map<string, number>, section: string, key?: string): number | undefined {
  return key === undefined ? lines.get(`[${section}]`) ?? lines.get(section) : lines.get(`${section}.${key}`)
}

// Anywhere on the line: an inline table or a dotted key puts the secret's key mid-line.
const SECRET_LINE = /(password|token|secret)\w*["']?\s*=/i

// A window of the line around the column (a line can be megabytes long), printable.
export function excerpt (text: string, line: number, column: number): string {
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
