// s3rver and dynalite ship no types; only what the harness uses is declared.

declare module 's3rver' {
  import type { AddressInfo } from 'node:net'
  import type { Server } from 'node:http'

  export default class S3rver {
    constructor (options: { address: string, port: number, silent: boolean, directory: string })
    httpServer: Server
    run (): Promise<AddressInfo>
    close (): Promise<void>
  }
}

declare module 'dynalite' {
  import type { Server } from 'node:http'

  export default function dynalite (options: { createTableMs?: number, deleteTableMs?: number, updateTableMs?: number, path?: string }): Server
}
