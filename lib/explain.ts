import type { BackendDeps } from './backend.ts'
import type { Explainer, Stage } from './check.ts'

// What a failed database or cache check asks the environment before it answers: where this
// instance sits in its VPC, from the instance metadata service (no permission needed).

// The most pinpointing adds to a check's answer, on top of [checks] timeout_ms.
export const PINPOINT_BUDGET_MS = 3000

export interface PinpointTarget {
  backend: string
  host: string
  port: number
  tls?: boolean
  // The stages whose failure the network's configuration may explain: no connection at all, or
  // (for a cache that speaks TLS only) a connection that never answers.
  stages: Stage[]
}

export function pinpointer (deps: BackendDeps, target: PinpointTarget): Explainer {
  return {
    budgetMs: PINPOINT_BUDGET_MS,
    async explain (result) {
      if (!target.stages.includes(result.stage)) return undefined
      const { network, note, disabled } = await deps.imds.network()
      if (disabled) return undefined
      return { details: { instance: network ?? note } }
    }
  }
}
