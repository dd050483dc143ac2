import { chromium, type BrowserContext } from 'playwright-core'
import { makeTempDir } from './process.ts'

// Debian's Chromium (never a downloaded one), headless, in a fresh profile, allowed nothing but
// loopback: no sync, no updates, no first-run pings, and no name but 127.0.0.1 resolves.
export const CHROMIUM = '/usr/bin/chromium'
const args = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1'
]

export async function launchChromium (): Promise<BrowserContext> {
  return chromium.launchPersistentContext(await makeTempDir('chromium'), { executablePath: CHROMIUM, args, viewport: { width: 1280, height: 900 } })
}
