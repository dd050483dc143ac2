import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parse } from 'smol-toml'
import { configFromOutputs, stackOutputs, tomlString } from '../write-config.ts'

// smol-toml builds objects without a prototype; compare plain data
const parseToml = (text: string): unknown => JSON.parse(JSON.stringify(parse(text)))
import { templateFile } from '../synth.ts'

const fixture = fileURLToPath(new URL('fixtures/describe-stacks.json', import.meta.url))
const described = JSON.parse(readFileSync(fixture, 'utf8'))
const withOutputs = (change: (outputs: Array<{ OutputKey: string, OutputValue: string }>) => void) => {
  const copy = structuredClone(described)
  change(copy.Stacks[0].Outputs)
  return copy
}

describe('configFromOutputs', () => {
  test('the seed\'s config.toml, every value from the stack', () => {
    assert.deepEqual(parseToml(configFromOutputs(described, 'Pa55word!')), {
      server: { host: '0.0.0.0', port: 8080 },
      aws: { region: 'eu-central-1' },
      s3: { bucket: 'suaicloudapp-bucket83908e77-1xk2v9q0m3ab' },
      database: {
        host: 'su1a2b3c4d5e6f7.c8x2k9mw1yz4.eu-central-1.rds.amazonaws.com',
        port: 3306,
        user: 'admin',
        password: 'Pa55word!',
        dbname: 'suai'
      },
      redis: { host: 'su1r2q3p4o5n6m7.x4k9ab.clustercfg.euc1.cache.amazonaws.com', port: 6379 },
      dynamodb: { table: 'suaicloudtable', partition_key: 'id' }
    })
  })

  test('written in the seed\'s layout: sections in its order, literal strings', () => {
    const text = configFromOutputs(described, 'Pa55word!')
    assert.deepEqual(text.match(/^\[\w+\]$/gm), ['[server]', '[aws]', '[s3]', '[database]', '[redis]', '[dynamodb]'])
    assert.match(text, /^host = 'su1a2b3c4d5e6f7\.c8x2k9mw1yz4\.eu-central-1\.rds\.amazonaws\.com'\nport = 3306\nuser = 'admin'\npassword = 'Pa55word!'\ndbname = 'suai'$/m)
  })

  test('any password RDS takes survives the trip through TOML', () => {
    for (const password of ['it\'s\\a#"secret"', '!#$%&\'()*+,-.:;<=>?[\\]^_`{|}~', 'x'.repeat(41)]) {
      assert.equal((parse(configFromOutputs(described, password)) as any).database.password, password)
    }
  })

  test('an output missing from the stack is named', () => {
    const stale = withOutputs(outputs => outputs.splice(outputs.findIndex(o => o.OutputKey === 'RedisHost'), 1))
    assert.throws(() => configFromOutputs(stale, 'p'), /the stack has no output RedisHost/)
  })

  test('a port that is not a number is refused', () => {
    const broken = withOutputs(outputs => { outputs.find(o => o.OutputKey === 'DatabasePort')!.OutputValue = '3306; rm' })
    assert.throws(() => configFromOutputs(broken, 'p'), /output DatabasePort is not a port: 3306; rm/)
  })

  test('a stack still being created has no outputs yet, and says so', () => {
    const creating = structuredClone(described)
    delete creating.Stacks[0].Outputs
    creating.Stacks[0].StackStatus = 'CREATE_IN_PROGRESS'
    assert.throws(() => configFromOutputs(creating, 'p'), /no outputs \(status CREATE_IN_PROGRESS\)/)
    assert.throws(() => configFromOutputs({ Stacks: [] }, 'p'), /one stack in "Stacks"/)
    assert.throws(() => configFromOutputs(null, 'p'), /one stack in "Stacks"/)
  })

  test('the sample names exactly the outputs of the committed template', () => {
    const template = JSON.parse(readFileSync(templateFile, 'utf8'))
    assert.deepEqual([...stackOutputs(described).keys()].sort(), Object.keys(template.Outputs).sort())
  })

  // The app's own loader is the judge of a config.toml; it is there when the root's npm ci ran.
  const root = fileURLToPath(new URL('../../', import.meta.url))
  const appInstalled = existsSync(join(root, 'node_modules', 'ajv')) && existsSync(join(root, 'lib', 'config.ts'))
  test('the app loads it without a problem', { skip: !appInstalled && 'the root npm ci has not run' }, async () => {
    const { loadConfig } = await import(join(root, 'lib', 'config.ts')) as {
      loadConfig: (options: { path: string, cwd: string, env: NodeJS.ProcessEnv, programDir: string }, backends: unknown) => { ok: boolean, problems?: unknown }
    }
    // The list of backends the config is validated against.
    const { backends } = await import(join(root, 'plugins', 'backends.ts')) as { backends: unknown }
    const dir = mkdtempSync(join(tmpdir(), 'suaicloudapp-config-'))
    const file = join(dir, 'config.toml')
    writeFileSync(file, configFromOutputs(described, 'Pa55word!'))
    const loaded = loadConfig({ path: file, cwd: dir, env: {}, programDir: dir }, backends)
    rmSync(dir, { recursive: true, force: true })
    assert.equal(loaded.ok, true, JSON.stringify(loaded.problems))
  })
})

describe('tomlString', () => {
  test('literal when it can be, escaped when it must', () => {
    assert.equal(tomlString('admin'), '\'admin\'')
    assert.equal(tomlString('a"b\\c'), '\'a"b\\c\'')
    assert.equal(tomlString('it\'s'), '"it\'s"')
    assert.equal(tomlString('a\tb\u007f'), '"a\\tb\\u007F"')
  })
})
