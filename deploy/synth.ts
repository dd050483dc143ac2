import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { buildApp } from './stack.ts'

export const templateFile = fileURLToPath(new URL('suaicloudapp.template.json', import.meta.url))

// The template as `cdk synth` would write it, made by the library alone: no CLI, no network.
// The cloud assembly goes to a temporary folder that is removed again.
export function synthTemplate (): unknown {
  const outdir = mkdtempSync(join(tmpdir(), 'suaicloudapp-cdk-'))
  try {
    const { app, stack } = buildApp(outdir)
    const assembly = app.synth()
    return assembly.getStackArtifact(stack.artifactId).template
  } finally {
    rmSync(outdir, { recursive: true, force: true })
  }
}

export function templateText (template: unknown): string {
  return JSON.stringify(template, null, 2) + '\n'
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    writeFileSync(templateFile, templateText(synthTemplate()))
    console.log(`wrote ${templateFile}`)
  } catch (error) {
    console.error((error as Error).message)
    process.exitCode = 1
  }
}
