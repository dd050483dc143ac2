import { readFileSync, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parse, TomlError } from 'smol-toml'
import { Ajv, type ValidateFunction } from 'ajv'
import type { TObject } from '@sinclair/typebox'
import type { BackendList } from './backend.ts'
import { AppSections, secretKeys, sectionSchemas, type Config } from './config-schema.ts'
import { envName, excerpt, explainSyntax, floatForInteger, unknownOverrides, keyOutsideSections, keySchema, lineIndex, schemaProblem, unknownKey, unknownSection, type ConfigProblem, type ProblemContext } from './config-problems.ts'
import { secretValues } from './secrets.ts'

export type { Config, ConfigProblem }

// config.toml, read and validated section by section: a section with problems does not take
// the others down. An app section with problems keeps its keys that are valid and the defaults
// of the rest (so a broken [server] still names the port to answer /health on, and its token
// still guards /logs); a backend section with problems is left out of `config` and its
// problems answer on its endpoint.
export interface LoadedConfig<C extends Config = Config> {
  // True when there is no problem at all.
  ok: boolean
  // The config.toml in use, when one was found.
  file?: string
  config: C
  problems: ConfigProblem[]
  // Absolute path of the log file: [log] file, relative to the working directory.
  logFile: string
  // Values that must never appear in a log line, a response or an error text.
  secrets: string[]
  // Mistakes that change nothing but deserve a word (a misspelt SUAI_* variable).
  warnings: string[]
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

// A string where a number belongs is a mistake to report, not to coerce.
const ajv = new Ajv({ allErrors: true, useDefaults: true, removeAdditional: true, coerceTypes: false })
// Sections the app cannot do without; the others ([aws] and the backends) are optional.
const appSections = AppSections.properties as unknown as Record<string, TObject>
const validators = new WeakMap<TObject, ValidateFunction>()
// A section's own validator. Its default ({} for the app's sections) is applied by the loader:
// Ajv has no use for a default at a schema's root.
function validatorFor (schema: TObject): ValidateFunction {
  let validate = validators.get(schema)
  if (!validate) {
    const { default: _, ...section } = schema as TObject & { default?: unknown }
    validate = ajv.compile(section)
    validators.set(schema, validate)
  }
  return validate
}
const hasDefault = (section: string) => (appSections[section] as { default?: unknown } | undefined)?.default !== undefined

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

export function loadConfig<const List extends BackendList> (options: LoadOptions, backends: List): LoadedConfig<Config<List>> {
  const sections = sectionSchemas(backends)
  const secrets = secretKeys(sections)
  const found = findConfigFile(options)
  if ('problem' in found) return unreadable(undefined, found.problem, options, sections, secrets)
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
    return unreadable(file, message, options, sections, secrets)
  }

  let raw: Table
  const floats = new Set<string>()
  try {
    // Integers as BigInt, so that a float (8080.0) is still told from an integer. One beyond
    // 64 bits is parsed again as numbers, for the parser's own error that names the line.
    raw = parse(text, { integersAsBigInt: true })
    if (!numbersOf(raw, floats)) parse(text)
  } catch (err) {
    if (!(err instanceof TomlError)) throw err
    const { reason, column } = explainSyntax(text, err.line, err.column, err.message.split('\n')[0].replace(/^Invalid TOML document: /, ''))
    const message = `${file}:${err.line}:${column}: TOML syntax error: ${reason}`
    return { ...unreadable(file, message, options, sections, secrets), problems: [{ message, line: err.line, excerpt: excerpt(text, err.line, column) }] }
  }

  const context: ProblemContext = { file, lines: lineIndex(text), sections, secretKeys: secrets, env: options.env }
  const data = withEnvOverrides(raw, options.env, sections)
  const problems = Object.entries(raw).filter(([section]) => !sections[section])
    .map(([section, value]) => isTable(value) ? unknownSection(context, section) : keyOutsideSections(context, section))
  const config: Table = {}
  for (const [section, schema] of Object.entries(sections)) {
    const given = data[section]
    if (given === undefined && !hasDefault(section)) continue
    const checked = checkSection(context, section, schema, given ?? {}, floats)
    problems.push(...checked.problems)
    if (checked.problems.length === 0) config[section] = checked.value
    else if (hasDefault(section)) config[section] = salvage(schema, given, checked.problems.map(problem => problem.key))
  }
  return {
    ok: problems.length === 0,
    file,
    config: config as Config<List>,
    problems,
    logFile: logFileOf(config, options),
    secrets: secretValues(secrets, raw, data, options.env),
    warnings: unknownOverrides(options.env, sections)
  }
}

// A config file that could not be found, read or parsed: every section at its defaults.
function unreadable<List extends BackendList> (file: string | undefined, message: string, options: LoadOptions, sections: Record<string, TObject>, secrets: string[]): LoadedConfig<Config<List>> {
  const data = withEnvOverrides({}, options.env, sections)
  const config: Table = {}
  for (const section of Object.keys(appSections)) {
    if (hasDefault(section)) config[section] = salvage(sections[section], data[section])
  }
  return { ok: false, file, config: config as Config<List>, problems: [{ message }], logFile: logFileOf(config, options), secrets: secretValues(secrets, {}, data, options.env), warnings: unknownOverrides(options.env, sections) }
}

function logFileOf (config: Table, { cwd }: LoadOptions): string {
  return resolve(cwd, (config.log as { file: string }).file)
}

function checkSection (context: ProblemContext, section: string, schema: TObject, given: unknown, floats: Set<string>): { value?: Table, problems: ConfigProblem[] } {
  if (!isTable(given)) return { problems: [schemaProblem(context, section, { instancePath: '', keyword: 'type', params: { type: 'object' } }, given)] }
  const problems = Object.keys(given).filter(key => !(key in schema.properties)).map(key => unknownKey(context, section, key))
  for (const [key, value] of Object.entries(given)) {
    if (floats.has(`${section}.${key}`) && keySchema(context.sections, section, key)?.type === 'integer' && Number.isInteger(value)) {
      problems.push(floatForInteger(context, section, key, value as number))
    }
  }
  // structuredClone: the validator writes the defaults into what it is given.
  const value = structuredClone(given)
  const validate = validatorFor(schema)
  if (!validate(value)) problems.push(...(validate.errors ?? []).map(error => schemaProblem(context, section, error, value)))
  return { value, problems }
}

// An app section with problems: its keys that are valid and have no problem, the defaults for
// the rest.
function salvage (schema: TObject, given: unknown, withProblems: Array<string | undefined> = []): Table {
  const validate = validatorFor(schema)
  const kept: Table = isTable(given) ? Object.fromEntries(Object.entries(given).filter(([key]) => key in schema.properties && !withProblems.includes(key))) : {}
  while (!validate(kept)) {
    const bad = (validate.errors ?? []).map(error => error.instancePath.split('/')[1]).filter(key => key !== undefined && key in kept)
    if (bad.length === 0) break
    for (const key of bad) delete kept[key]
  }
  return kept
}

// TOML integers arrive as BigInt: numbers again from here on (in place, without recursion: a
// file may nest thousands deep), with the paths of the floats noted. False when an integer
// does not fit in 64 bits.
function numbersOf (root: Table, floats: Set<string>): boolean {
  const pending: Array<[Table | unknown[], string]> = [[root, '']]
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [node, path] = next
    for (const [key, value] of Object.entries(node)) {
      const at = path ? `${path}.${key}` : key
      if (typeof value === 'bigint') {
        if (BigInt.asIntN(64, value) !== value) return false
        ;(node as Table)[key] = Number(value)
      } else if (typeof value === 'number') {
        floats.add(at)
      } else if (Array.isArray(value) || isTable(value)) {
        pending.push([value, at])
      }
    }
  }
  return true
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

function withEnvOverrides (raw: Table, env: NodeJS.ProcessEnv, sections: Record<string, TObject>): Table {
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

export function isTable (value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date)
}
