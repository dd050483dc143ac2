import { readFileSync } from 'node:fs'
import { join } from 'node:path'

// The dashboard's files (routes/dashboard/): read from the sources when running from them, and
// inside the executable given by the build as one constant (build/executable.ts), because a
// single file has no folder to read them from.
export const dashboardFileNames = ['index.html', 'dashboard.css', 'dashboard.js'] as const
export type DashboardFiles = Record<typeof dashboardFileNames[number], string>

// Defined by the bundler at build time; absent when running from sources.
declare const SUAI_DASHBOARD: DashboardFiles | undefined

// What the build embeds, read from the sources.
export function readDashboardFiles (): DashboardFiles {
  const folder = join(import.meta.dirname, 'dashboard')
  return Object.fromEntries(dashboardFileNames.map(name => [name, readFileSync(join(folder, name), 'utf8')])) as DashboardFiles
}

export function dashboardFiles (): DashboardFiles {
  return typeof SUAI_DASHBOARD === 'undefined' ? readDashboardFiles() : SUAI_DASHBOARD
}
