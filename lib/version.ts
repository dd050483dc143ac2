import packageJson from '../package.json' with { type: 'json' }

// Defined by the bundler at build time; absent when running from sources.
declare const SUAI_COMMIT: string | undefined

export const version: string = packageJson.version
export const commit: string | undefined = typeof SUAI_COMMIT === 'undefined' ? undefined : SUAI_COMMIT
export const versionLine = `suaicloudapp ${version}${commit ? ` (commit ${commit})` : ''}`
