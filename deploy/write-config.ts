import { execFileSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import {
  appPort, autoScalingGroupOutput, configOutputs, loadBalancerUrlOutput, passwordVariable, stackName
} from './contract.ts'

// After `aws cloudformation deploy`: turn the stack's outputs into config.toml, upload it with
// the executable to the stack's bucket, and refresh the instances so they sync both.

interface StackOutput { OutputKey?: string, OutputValue?: string }

// The outputs of one stack in `aws cloudformation describe-stacks` JSON, by name.
export function stackOutputs (describeStacks: unknown): Map<string, string> {
  const stacks = (describeStacks as { Stacks?: unknown } | null)?.Stacks
  if (!Array.isArray(stacks) || stacks.length !== 1) {
    throw new Error('expected the JSON of `aws cloudformation describe-stacks --stack-name NAME`: one stack in "Stacks"')
  }
  const outputs: unknown = stacks[0].Outputs
  if (!Array.isArray(outputs)) {
    throw new Error(`stack ${String(stacks[0].StackName)} has no outputs (status ${String(stacks[0].StackStatus)}): wait for CREATE_COMPLETE or UPDATE_COMPLETE`)
  }
  const byName = new Map<string, string>()
  for (const { OutputKey, OutputValue } of outputs as StackOutput[]) {
    if (OutputKey !== undefined && OutputValue !== undefined) byName.set(OutputKey, OutputValue)
  }
  return byName
}

// A TOML literal string when the value allows one (as the seed writes them), else a basic
// string with escapes. https://toml.io/en/v1.0.0#string
export function tomlString (value: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/['\u0000-\u001f\u007f]/.test(value)) return `'${value}'`
  return JSON.stringify(value).replace(/\u007f/g, '\\u007F')
}

function outputValue (outputs: Map<string, string>, name: string): string {
  const value = outputs.get(name)
  if (value === undefined || value === '') {
    throw new Error(`the stack has no output ${name}: was it deployed from deploy/suaicloudapp.template.json?`)
  }
  return value
}

// config.toml for the app, in the seed's layout: every value from the stack's outputs, the
// password given separately (a NoEcho parameter never comes back out of CloudFormation).
export function configFromOutputs (describeStacks: unknown, password: string): string {
  const outputs = stackOutputs(describeStacks)
  const sections = new Map<string, string[]>([['server', ["host = '0.0.0.0'", `port = ${appPort}`]]])
  for (const { output, section, key, integer } of configOutputs) {
    const value = outputValue(outputs, output)
    if (integer && !/^[1-9][0-9]{0,4}$/.test(value)) throw new Error(`output ${output} is not a port: ${value}`)
    const lines = sections.get(section) ?? []
    lines.push(`${key} = ${integer ? value : tomlString(value)}`)
    if (section === 'database' && key === 'user') lines.push(`password = ${tomlString(password)}`)
    sections.set(section, lines)
  }
  const body = [...sections].map(([section, lines]) => `[${section}]\n${lines.join('\n')}\n`).join('\n')
  return `# Written by deploy/write-config.ts from the outputs of the CloudFormation stack.\n\n${body}`
}

function aws (args: string[]): string {
  try {
    return execFileSync('aws', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new Error('the AWS CLI (aws) is not on PATH: install AWS CLI v2 and configure credentials')
    throw new Error(`aws ${args.slice(0, 2).join(' ')} failed (its message is above)`)
  }
}

function main (): void {
  const usage = 'usage: tsx write-config.ts [--stack-name NAME] [--out FILE] [--executable FILE] [--no-upload] [--no-refresh]'
  const { values } = parseArgs({
    options: {
      'stack-name': { type: 'string', default: stackName },
      out: { type: 'string', default: fileURLToPath(new URL('../dist/config.toml', import.meta.url)) },
      executable: { type: 'string', default: fileURLToPath(new URL('../dist/suaicloudapp', import.meta.url)) },
      'no-upload': { type: 'boolean', default: false },
      'no-refresh': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false }
    }
  })
  if (values.help) {
    console.log(usage)
    return
  }
  const password = process.env[passwordVariable]
  if (password === undefined || password === '') {
    throw new Error(`set ${passwordVariable} to the DbPassword the stack was deployed with: CloudFormation never gives it back`)
  }
  const upload = !values['no-upload']
  if (upload && !existsSync(values.executable)) {
    throw new Error(`${values.executable} does not exist: build it first (npm run build) or pass --no-upload`)
  }

  const described = JSON.parse(aws(['cloudformation', 'describe-stacks', '--stack-name', values['stack-name'], '--output', 'json']))
  writeFileSync(values.out, configFromOutputs(described, password), { mode: 0o600 })
  console.log(`wrote ${values.out}`)

  const outputs = stackOutputs(described)
  if (upload) {
    const bucket = outputValue(outputs, 'S3Bucket')
    aws(['s3', 'cp', values.executable, `s3://${bucket}/suaicloudapp`])
    aws(['s3', 'cp', values.out, `s3://${bucket}/config.toml`])
    console.log(`uploaded suaicloudapp and config.toml to s3://${bucket}/`)
    // User data runs at first boot only: instances that booted before this upload found an
    // empty bucket, and running ones keep their old files, so replace them.
    if (!values['no-refresh']) {
      const group = outputValue(outputs, autoScalingGroupOutput)
      aws(['autoscaling', 'start-instance-refresh', '--auto-scaling-group-name', group,
        '--preferences', JSON.stringify({ MinHealthyPercentage: 50, InstanceWarmup: 60 })])
      console.log(`started an instance refresh of ${group}`)
    }
  }
  console.log(`then: curl ${outputValue(outputs, loadBalancerUrlOutput)}/health`)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    main()
  } catch (error) {
    console.error((error as Error).message)
    process.exitCode = 1
  }
}
