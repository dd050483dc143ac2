import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { configFromOutputs } from '../write-config.ts'

// deploy.sh, destroy.sh and write-config.ts run as a person runs them, against an `aws` on PATH
// that records its arguments and answers describe-stacks with the sample: no AWS, no network.

const deployDir = fileURLToPath(new URL('../', import.meta.url))
const fixture = join(deployDir, 'test', 'fixtures', 'describe-stacks.json')
const bucket = 'suaicloudapp-bucket83908e77-1xk2v9q0m3ab'
const group = 'suaicloudapp-AutoScalingGroupASG804C35BE-Lm3nB7vC2xZq'

const fakeAws = `#!/bin/bash
printf '%s\\n' "$*" >> "$AWS_LOG"
if [ "$1 $2" = 'cloudformation describe-stacks' ]; then
  if [[ " $* " == *' --query '* ]]; then echo ${bucket}; else cat "$FIXTURE"; fi
fi
`

const roots: string[] = []
after(() => { for (const root of roots) rmSync(root, { recursive: true, force: true }) })

// A clone's layout in a temporary folder: deploy/ with the scripts, dist/ with an executable.
function clone (withExecutable = true) {
  const root = mkdtempSync(join(tmpdir(), 'suaicloudapp-deploy-'))
  roots.push(root)
  const dir = join(root, 'deploy')
  mkdirSync(dir)
  for (const file of ['deploy.sh', 'destroy.sh', 'write-config.ts', 'contract.ts', 'suaicloudapp.template.json']) {
    copyFileSync(join(deployDir, file), join(dir, file))
  }
  symlinkSync(join(deployDir, 'node_modules'), join(dir, 'node_modules'))
  mkdirSync(join(root, 'dist'))
  if (withExecutable) writeFileSync(join(root, 'dist', 'suaicloudapp'), 'ELF')
  mkdirSync(join(root, 'bin'))
  writeFileSync(join(root, 'bin', 'aws'), fakeAws)
  chmodSync(join(root, 'bin', 'aws'), 0o755)
  const log = join(root, 'aws.log')
  writeFileSync(log, '')
  const run = (command: string[], env: Record<string, string> = {}) => {
    const result = spawnSync(command[0], command.slice(1), {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, PATH: `${join(root, 'bin')}:${process.env.PATH}`, AWS_LOG: log, FIXTURE: fixture, SUAI_DATABASE_PASSWORD: '', ...env }
    })
    return { ...result, calls: readFileSync(log, 'utf8').split('\n').filter(Boolean) }
  }
  return { root, dir, run }
}

describe('deploy.sh', () => {
  test('deploys, writes config.toml, uploads it with the executable and refreshes the instances', () => {
    const { root, dir, run } = clone()
    const result = run(['bash', join(dir, 'deploy.sh'), 'InstanceProfileName=LabInstanceProfile'], { SUAI_DATABASE_PASSWORD: 'Pa55 word' })
    assert.equal(result.status, 0, result.stderr)
    const config = join(root, 'dist', 'config.toml')
    assert.deepEqual(result.calls, [
      'cloudformation deploy --template-file suaicloudapp.template.json --stack-name suaicloudapp --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset --parameter-overrides DbPassword=Pa55 word InstanceProfileName=LabInstanceProfile',
      'cloudformation describe-stacks --stack-name suaicloudapp --output json',
      `s3 cp ${join(root, 'dist', 'suaicloudapp')} s3://${bucket}/suaicloudapp`,
      `s3 cp ${config} s3://${bucket}/config.toml`,
      `autoscaling start-instance-refresh --auto-scaling-group-name ${group} --preferences {"MinHealthyPercentage":50,"InstanceWarmup":60}`
    ])
    assert.equal(readFileSync(config, 'utf8'), configFromOutputs(JSON.parse(readFileSync(fixture, 'utf8')), 'Pa55 word'))
    assert.equal(statSync(config).mode & 0o077, 0, 'config.toml holds the password: readable by its owner only')
    assert.match(result.stdout, /curl http:\/\/suaic-LoadB-.*\.elb\.amazonaws\.com\/health/)
  })

  test('without a password or an executable it stops before touching AWS', () => {
    const withoutPassword = clone()
    const noPassword = withoutPassword.run(['bash', join(withoutPassword.dir, 'deploy.sh')])
    assert.equal(noPassword.status, 2)
    assert.match(noPassword.stderr, /set SUAI_DATABASE_PASSWORD/)
    assert.deepEqual(noPassword.calls, [])

    const { dir, run } = clone(false)
    const noExecutable = run(['bash', join(dir, 'deploy.sh')], { SUAI_DATABASE_PASSWORD: 'Pa55word' })
    assert.equal(noExecutable.status, 2)
    assert.match(noExecutable.stderr, /dist\/suaicloudapp does not exist: run npm run build/)
    assert.deepEqual(noExecutable.calls, [])
  })
})

describe('write-config.ts', () => {
  test('--no-upload only writes the file', () => {
    const { dir, root, run } = clone()
    const out = join(root, 'config.toml')
    const result = run([join(dir, 'node_modules', '.bin', 'tsx'), join(dir, 'write-config.ts'), '--stack-name', 'other', '--out', out, '--no-upload'], { SUAI_DATABASE_PASSWORD: 'p' })
    assert.equal(result.status, 0, result.stderr)
    assert.deepEqual(result.calls, ['cloudformation describe-stacks --stack-name other --output json'])
    assert.match(readFileSync(out, 'utf8'), /^password = 'p'$/m)
  })

  test('without the password it says where to put it', () => {
    const { dir, run } = clone()
    const result = run([join(dir, 'node_modules', '.bin', 'tsx'), join(dir, 'write-config.ts')])
    assert.equal(result.status, 1)
    assert.match(result.stderr, /set SUAI_DATABASE_PASSWORD to the DbPassword the stack was deployed with/)
    assert.deepEqual(result.calls, [])
  })
})

describe('destroy.sh', () => {
  test('empties the bucket, deletes the stack and waits', () => {
    const { dir, run } = clone()
    const result = run(['bash', join(dir, 'destroy.sh')], { STACK_NAME: 'course' })
    assert.equal(result.status, 0, result.stderr)
    assert.deepEqual(result.calls, [
      'cloudformation describe-stacks --stack-name course --query Stacks[0].Outputs[?OutputKey==\'S3Bucket\'].OutputValue --output text',
      `s3 rm s3://${bucket} --recursive`,
      'cloudformation delete-stack --stack-name course',
      'cloudformation wait stack-delete-complete --stack-name course'
    ])
  })
})
